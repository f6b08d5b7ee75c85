import type { WalRetentionMark } from '../domain/retention/types';
import type { GapRange } from '../domain/wal/continuity';
import type { WalRange } from '../domain/wal/ranges';
import type { WalRecord } from '../domain/wal/record';
import type { WalViewCatalog } from './wal-view';

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
  /**
   * Runs of segments missing since the last base backup, the first MAX_REPORTED_GAPS of
   * them (empty or absent: none): the item stays small whatever the archive lacks.
   */
  gaps?: GapRange[];
  /** How many segments are missing in all, and in how many runs (`gaps` may list fewer). */
  gapSegments?: number;
  gapRanges?: number;
  /** Missing segment names, as checkpoints before ranges stored them: read, never written. */
  gap?: string[];
  /**
   * The timeline the live server was on at `measuredAt`: read by the checkpoint from the
   * configured connection, or set by a confirmed `strongbox pitr --as-primary`.
   */
  timeline?: number;
  timelineSource?: 'checkpoint' | 'promotion';
}

/** At most this many gap runs are stored in the archive status (about 100 bytes each). */
export const MAX_REPORTED_GAPS = 100;

/**
 * Where WAL reconciliation (reconcile-wal.ts) resumes on one timeline: the first WAL folder
 * (`TTTTTTTTLLLLLLLL`, 16 hex digits) not yet settled, and what its runs repaired.
 */
export interface ReconcileCursor {
  timeline: number;
  folder: string;
  at: string;
  /** When a run last indexed files the events had missed, and how many (in all, since the first run). */
  lastRepairedAt?: string;
  repairedTotal?: number;
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
 * - Segment records are also kept as ranges (runs of consecutive segments per timeline,
 *   see domain/wal/ranges.ts): recording a segment adds it to its timeline's ranges once
 *   its record is written; deleting records takes them out of the ranges first. A range
 *   only ever claims recorded segments; a recorded segment a range lacks (a writer that
 *   died between the two writes) is found by `recordedRuns` and repaired by `addRanges`.
 * - Lists read keys (Query), paged to the end; never a Scan.
 * - The timeline summaries, archive status, retention mark, restore points and ranges of
 *   every database can also be read at once from the WAL view (WalViewCatalog; optional:
 *   the DynamoDB catalog has it, stand-ins may not).
 * - Every other failure is a CatalogError with a hint; SDK errors never leak.
 */
export interface WalCatalog extends Partial<WalViewCatalog> {
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
   * The records of many WAL files, of any databases, at once (BatchGetItem, 100 keys a
   * request), by `database + '\u0000' + name`; absent ones are missing. Optional: without
   * it callers read them one by one (getWal).
   */
  getWals?(files: ReadonlyArray<{ database: string; name: string }>): Promise<Map<string, IndexedWalRecord>>;
  /**
   * Segment and `.partial` records of one timeline, ascending by name, optionally only
   * segment numbers `fromSegno`..`toSegno` (inclusive; `segmentSize` turns them into names).
   */
  listSegments(database: string, timeline: number, fromSegno?: bigint, toSegno?: bigint, segmentSize?: number): Promise<IndexedWalRecord[]>;
  /**
   * The archived ranges of one timeline (segments only, never `.partial`), joined and
   * ascending: one Query over the timeline's range items, whose number depends on the gaps
   * (and on ranges concurrent indexing has not merged yet), never on the segments.
   */
  listRanges(database: string, timeline: number): Promise<WalRange[]>;
  /**
   * The runs of segment records of one timeline with numbers `fromSegno`..`toSegno`, read
   * from the records themselves (page by page; memory holds the runs, not the records):
   * how a gap the ranges show is checked against the truth. Costs one item per record in
   * the span, so callers ask only about spans the ranges say are missing.
   */
  recordedRuns(database: string, timeline: number, fromSegno: bigint, toSegno: bigint, segmentSize: number): Promise<WalRange[]>;
  /** Adds runs of recorded segments to their timelines' ranges (a repair; idempotent). */
  addRanges(database: string, runs: readonly WalRange[], segmentSize: number): Promise<void>;
  /**
   * Joins a timeline's range items that touch or overlap (left by writers that died
   * half-way): returns the ranges, how many items were read and how many removed.
   */
  compactRanges(database: string, timeline: number): Promise<{ ranges: WalRange[]; read: number; removed: number }>;
  /** `.history` records, ascending (by timeline). */
  listHistories(database: string): Promise<IndexedWalRecord[]>;
  /** `.backup` label records, ascending by name. */
  listBackupLabels(database: string): Promise<IndexedWalRecord[]>;
  /** The timelines with recorded segments, ascending. */
  timelines(database: string): Promise<WalTimelineSummary[]>;
  /**
   * The timelines, the archive status and a pending retention mark at once: one Query on
   * the database's metadata partition instead of three requests (status and the retention
   * plan of many databases read it for each).
   */
  readMeta(database: string): Promise<{ timelines: WalTimelineSummary[]; archiveStatus?: ArchiveStatus; retentionMark?: unknown }>;
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
   * are not an error. Segments are taken out of their timeline's ranges first (a cut in
   * the middle of a range splits it). Never touches storage: the caller deletes the
   * objects first. Cutting ranges is not safe against a concurrent cut: one catalog
   * instance makes the cuts of a database one at a time (its deletes do not wait), and
   * two processes must not delete one database's WAL at once (retention runs one at a time).
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
  /** Where reconciliation resumes on this timeline, or undefined before its first run. */
  getReconcileCursor(database: string, timeline: number): Promise<ReconcileCursor | undefined>;
  /** Stores where reconciliation resumes (one item per database and timeline). */
  putReconcileCursor(database: string, cursor: ReconcileCursor): Promise<void>;
}
