import type { WalRange } from '../domain/wal/ranges';
import type { ArchiveStatus, RestorePoint, WalTimelineSummary } from './wal-catalog';

/**
 * One database's WAL metadata as the catalog's WAL view holds it: what `readMeta`,
 * `listRestorePoints` and `listRanges` give for it, read for every database at once.
 */
export interface WalDatabaseMeta {
  database: string;
  /** The timelines with recorded segments, ascending. */
  timelines: WalTimelineSummary[];
  archiveStatus?: ArchiveStatus;
  /** A WAL deletion retention marked and did not finish, as stored (unchecked). */
  retentionMark?: unknown;
  /** Newest first (by `createdAt`, then name), as `listRestorePoints`. */
  restorePoints: RestorePoint[];
  /** The archived ranges of each timeline that has any, joined and ascending, as `listRanges`. */
  ranges: ReadonlyMap<number, WalRange[]>;
}

/** What one read of the WAL view gave. */
export interface WalViewsRead {
  /**
   * False when the view may lack items written before it existed (the table's items were
   * not all backfilled yet: `strongbox catalog rebuild`, or the first retention run): the
   * caller then reads database by database and ignores `databases`.
   */
  complete: boolean;
  /** Every database asked for (or every database in the view), with an empty meta when it has no item. */
  databases: Map<string, WalDatabaseMeta>;
  /** Query requests sent and items returned. */
  requests: number;
  items: number;
}

/**
 * The WAL view of the catalog: every database's timeline summaries, archive status,
 * retention mark, restore points and archived ranges under one index, so that questions
 * about all databases (status, the retention plan) read them in a few paged Queries
 * instead of three per database. The items stay where they are (the catalog's keys are
 * the truth); the view is an index over them, eventually consistent.
 */
export interface WalViewCatalog {
  /**
   * The metadata of `databases` (all databases in the view when absent), aggregated per
   * database as the pages arrive (memory holds the metas, never all items at once).
   * @throws CatalogError when the index cannot be read.
   */
  readViews(databases?: ReadonlySet<string>): Promise<WalViewsRead>;
  /**
   * Puts the database's existing timeline summaries, archive status, retention mark,
   * restore points and ranges into the view (items written before it existed); idempotent.
   * Returns how many items it changed.
   */
  backfillView(database: string): Promise<number>;
  /** Records that every item is in the view (after backfilling every database; or on a new, empty table). */
  markViewComplete(at: string): Promise<void>;
}
