import type { WalRetentionMark } from '../../domain/retention/types';
import type { WalRecord } from '../../domain/wal/record';

/** A WAL record as the catalog holds it: the stored record plus when it was indexed. */
export type IndexedWalRecord = WalRecord & { indexedAt: string };

/** A timeline that has archived segments, and the highest WAL file name seen on it. */
export interface WalTimelineSummary {
  timeline: number;
  /** The highest segment (or `.partial`) name recorded on this timeline; never goes backwards. */
  highestName: string;
  updatedAt: string;
}

/**
 * The archiver's health as last measured (the 15-minute checkpoint, or the doctor):
 * the measured RPO and the gaps found since the last base backup.
 */
export interface ArchiveStatus {
  measuredAt: string;
  lastArchivedWal?: string;
  lastArchivedAt?: string;
  /** Seconds between `measuredAt` and the newest WAL being durable: the measured RPO. */
  lagSeconds?: number;
  failedCount?: number;
  lastFailedWal?: string;
  lastFailedAt?: string;
  /** Segment names missing since the last base backup (empty or absent: none). */
  gap?: string[];
  /**
   * The timeline the live server was on at `measuredAt`: read by the checkpoint from the
   * configured connection, or set by a confirmed `strongbox pitr --as-primary`.
   */
  timeline?: number;
  timelineSource?: 'checkpoint' | 'promotion';
}

/** One page of a listing; `next` is given back as `after` to read the following page. */
export interface WalPage {
  records: IndexedWalRecord[];
  /** The last name read, when more may follow. */
  next?: string;
}

/** A named restore point (pg_create_restore_point) a PITR can stop at. */
export interface RestorePoint {
  name: string;
  /** PostgreSQL's text form, `X/Y`. */
  lsn: string;
  timeline: number;
  createdAt: string;
}

/**
 * The WAL part of the catalog, on the same table as the backups but never in their
 * indexes (listing backups never returns WAL items).
 *
 * - Names and database names are validated first: StrongboxError BAD_WAL_NAME,
 *   InputError for a database name.
 * - A record is written once: the same name with other bytes is a ConflictError.
 * - Lists read keys (Query), paged to the end; never a Scan.
 * - Every other failure is a CatalogError with a hint; SDK errors never leak.
 */
export interface WalCatalog {
  /**
   * Records an archived WAL file if absent. Returns 'created', or 'exists' when a record
   * with the same `sha256` is there (nothing changes). Throws ConflictError, naming both
   * hashes, when the recorded file has other bytes.
   */
  recordWal(record: WalRecord, indexedAt: string): Promise<'created' | 'exists'>;
  /**
   * Records many archived WAL files at once (`catalog rebuild`): reads which are there in
   * batches, writes the absent ones in batches, raises the timeline summaries once.
   * Idempotent like `recordWal`; a name recorded with other bytes is not written and is
   * returned in `conflicts`.
   */
  recordWals(records: readonly WalRecord[], indexedAt: string): Promise<{ created: number; existing: number; conflicts: Array<{ name: string; database: string; recorded: string; offered: string }> }>;
  /** The record of one WAL file, or undefined. */
  getWal(database: string, name: string): Promise<IndexedWalRecord | undefined>;
  /**
   * Segment and `.partial` records of one timeline, ascending by name, optionally only
   * segment numbers `fromSegno`..`toSegno` (inclusive; `segmentSize` turns them into names).
   */
  listSegments(database: string, timeline: number, fromSegno?: bigint, toSegno?: bigint, segmentSize?: number): Promise<IndexedWalRecord[]>;
  /** `.history` records, ascending (by timeline). */
  listHistories(database: string): Promise<IndexedWalRecord[]>;
  /** `.backup` label records, ascending by name. */
  listBackupLabels(database: string): Promise<IndexedWalRecord[]>;
  /** The timelines with recorded segments, ascending. */
  timelines(database: string): Promise<WalTimelineSummary[]>;
  /**
   * Stores the archiver's status unless a newer one (later `measuredAt`) is stored.
   * Returns false when the stored one was newer and was kept.
   */
  putArchiveStatus(database: string, status: ArchiveStatus): Promise<boolean>;
  /** The last stored archiver status, or undefined. */
  getArchiveStatus(database: string): Promise<ArchiveStatus | undefined>;
  /**
   * Records a restore point if absent. Returns 'created', or 'exists' when the same name
   * is recorded at the same LSN and timeline. Throws ConflictError when the name is taken
   * by another point, and StrongboxError BAD_LSN for an LSN that does not parse.
   */
  recordRestorePoint(database: string, point: RestorePoint): Promise<'created' | 'exists'>;
  /** Every restore point of the database, newest first (by `createdAt`, then name). */
  listRestorePoints(database: string): Promise<RestorePoint[]>;
  /** One restore point, or undefined. */
  getRestorePoint(database: string, name: string): Promise<RestorePoint | undefined>;
  /**
   * One page (at most `limit`, default the adapter's page size) of the segment and
   * `.partial` records of one timeline whose name sorts below `belowName` (a 24-hex
   * segment name on that timeline), ascending, after `after` when given. One Query on
   * keys: retention reads only what it deletes.
   */
  listSegmentsBelow(database: string, timeline: number, belowName: string, options?: { after?: string; limit?: number }): Promise<WalPage>;
  /** How many segment and `.partial` records of the timeline sort below `belowName` (a COUNT Query: no item is returned). */
  countSegmentsBelow(database: string, timeline: number, belowName: string): Promise<number>;
  /**
   * Deletes the records of these WAL files (any kind) in batches; records already gone
   * are not an error. Never touches storage: the caller deletes the objects first.
   */
  deleteWalRecords(database: string, names: readonly string[]): Promise<void>;
  /** The WAL deletion retention marked and did not finish, as stored (unchecked), or undefined. */
  getRetentionMark(database: string): Promise<unknown>;
  /**
   * Stores the WAL deletion retention is about to do (before it deletes anything).
   * Replaces an earlier mark only when that one is not newer (`at`).
   */
  putRetentionMark(database: string, mark: WalRetentionMark): Promise<void>;
  /** Removes the mark once its deletion is done, only if it is still the one written at `at`. */
  clearRetentionMark(database: string, at: string): Promise<void>;
  /** Removes one restore point; a missing one is not an error. */
  deleteRestorePoint(database: string, name: string): Promise<void>;
}
