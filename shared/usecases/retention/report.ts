/**
 * What a retention run reports: per backup, per database's WAL and per restore point,
 * what was (or, in a dry run, would be) kept, moved to cold storage or deleted, and why.
 */
import type { RetentionDecision, RetentionPolicy, RetentionRule } from '../../domain/retention';
import type { DiscardedWrite } from '../unfinished-writes';

/** One backup in the report. */
export interface RetentionItem {
  id: string;
  database: string;
  tier: string;
  state: string;
  startedAt: string;
  rule: RetentionRule;
  reason: string;
}

/** One database's WAL in the report: the cut-off per timeline and what it deleted. */
export interface WalReportItem {
  database: string;
  action: 'keep' | 'delete';
  rule: RetentionRule;
  reason: string;
  /** The base backups the PITR window starts from. */
  anchors: string[];
  /** On each timeline, segments (and `.partial` files) whose name sorts below `deleteBelow` go. */
  timelines: Array<{ timeline: number; deleteBelow: string }>;
  /** Older base backups whose consistency WAL stays below the cut-off (last 16 hex digits). */
  keep: Array<{ first: string; last: string; backupId: string }>;
  /** Segments deleted (dry run: recorded below the cut-offs, kept ranges included). */
  segments: number;
  /** Bytes of the deleted objects as stored (0 in a dry run). */
  bytes: number;
  /** Segments left because Object Lock holds them. */
  locked: number;
}

/** One restore point dropped from the catalog. */
export interface RestorePointReportItem {
  database: string;
  name: string;
  createdAt: string;
  rule: RetentionRule;
  reason: string;
}

export interface RetentionReport {
  at: string;
  dryRun: boolean;
  policy: RetentionPolicy;
  kept: RetentionItem[];
  /** Kept in cold storage (logical monthly): locally moved under `cold/`, in AWS moved by the lifecycle rule. */
  cold: Array<RetentionItem & { moved?: boolean }>;
  /** Deleted (in a dry run: what would be), with the bytes of their objects. */
  deleted: Array<RetentionItem & { bytes: number }>;
  /** Deletions left for the next run because the catalog changed since the plan. */
  skipped: Array<RetentionItem & { why: string }>;
  /** Deletions that failed (alerted); a marked entry is finished by the next run. */
  failed: Array<RetentionItem & { code: string; message: string }>;
  /** Deletions the plan asked for that Object Lock forbids yet (rule OBJECT_LOCKED): kept and reported. */
  locked: Array<RetentionItem & { retainUntil?: string; legalHold?: boolean }>;
  /** Per database with a WAL catalog: its WAL cut-off, or why all of it is kept. */
  wal: WalReportItem[];
  /** Restore points dropped (dry run: that would be), and how many stay. */
  restorePoints: { deleted: RestorePointReportItem[]; kept: number };
  /**
   * Unfinished writes (temporary files, multipart uploads) of killed backups: those discarded
   * (dry run: that would be) with their rule and reason, and how many a live writer still owns.
   */
  unfinished: { discarded: DiscardedWrite[]; kept: number; bytes: number };
  /** Sum of the sizes of the deleted objects and discarded writes (in a dry run: that would be freed; WAL not counted). */
  bytesFreed: number;
  notes: string[];
}

export const VERSIONED_NOTE =
  'in a versioned bucket a delete leaves a noncurrent version: the space is freed when the bucket\'s lifecycle rule expires noncurrent versions (NoncurrentVersionExpiration)';
export const COLD_NOTE_AWS =
  'cold entries are only reported on S3: the bucket\'s lifecycle rule on logical/monthly/ moves them to GLACIER or DEEP_ARCHIVE itself';
export const COLD_NOTE_LOCAL = 'cold entries are moved under cold/ in the repository folder; they keep their keys and stay readable';
export const LOCK_NOTE = 'Object Lock: locked objects are not deleted before their retain-until date (or while a legal hold is on); retention deletes them on a run after that date';
export const NO_WAL_NOTE = 'no WAL catalog was given: base backups are kept (NOT_PLANNED_YET) and no WAL or restore point is planned';

/** The report line of a backup decision. */
export function item(decision: RetentionDecision): RetentionItem {
  const { id, database, tier, state, startedAt, rule, reason } = decision;
  return { id, database, tier, state, startedAt, rule, reason };
}

/** An empty report for a plan made at `at`. */
export function emptyReport(at: string, dryRun: boolean, policy: RetentionPolicy): RetentionReport {
  return { at, dryRun, policy, kept: [], cold: [], deleted: [], skipped: [], failed: [], locked: [], wal: [], restorePoints: { deleted: [], kept: 0 }, unfinished: { discarded: [], kept: 0, bytes: 0 }, bytesFreed: 0, notes: [] };
}
