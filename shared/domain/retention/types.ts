/**
 * The planner's input and output types, shared by the backup, WAL and restore-point
 * parts of the plan. Pure data.
 */
import type { BackupEntry } from '../backup';
import type { TimelineSegment } from '../wal/history';
import type { RetentionPolicy } from './policy';

/** `cold` is a kept entry that lives in cold storage. */
export type RetentionAction = 'keep' | 'delete' | 'cold';

/** The stable names of the rules. */
export type RetentionRule =
  | 'INCOMPLETE_ENTRY'
  | 'IN_PROGRESS'
  | 'FROM_THE_FUTURE'
  | 'NOT_PLANNED_YET'
  | 'FINISH_DELETION'
  | 'NEWEST_VERIFIED'
  | 'PITR_ANCHOR'
  | 'PITR_WINDOW'
  | 'FAILED_INVESTIGATION'
  | 'FAILED_EXPIRED'
  | 'UNTIL_DELETED'
  | 'BEFORE_EXPIRY'
  | 'EXPIRED'
  | 'WITHIN_WINDOW'
  | 'COLD_STORAGE'
  | 'PAST_WINDOW'
  | 'WAL_CUTOFF'
  | 'WAL_HELD'
  | 'RESTORE_POINT_EXPIRED'
  | 'OBJECT_LOCKED'
  /** Not a backup's decision: a killed backup's unfinished write that could not be discarded (reported under `failed`). */
  | 'UNFINISHED_WRITE';

/**
 * A WAL deletion committed in the catalog (`WALMETA#<db>` / `RETENTION`) before any
 * object is deleted: on each listed timeline every segment (and `.partial`) whose name
 * sorts below `deleteBelow` goes, except the ranges in `keep`.
 */
export interface WalRetentionMark {
  at: string;
  rule: string;
  timelines: Array<{ timeline: number; deleteBelow: string }>;
  /** Segment ranges kept inside the cut-off, compared on the last 16 hex digits (any timeline). */
  keep: Array<{ first: string; last: string; backupId: string }>;
}

/** What the planner knows of one database's WAL archive (read by Query on keys). */
export interface WalDatabaseView {
  database: string;
  /** Timelines with recorded segments; `updatedAt` is when its newest segment was indexed. */
  timelines: ReadonlyArray<{ timeline: number; updatedAt: string }>;
  /**
   * The path of timelines leading to each timeline (from its history file); a timeline
   * whose path is missing (history unreadable) holds every WAL segment of the database.
   */
  paths: ReadonlyMap<number, readonly TimelineSegment[]>;
  /** A WAL deletion an earlier run marked and did not finish. */
  pending?: WalRetentionMark;
}

/** One named restore point as the planner needs it. */
export interface RestorePointView {
  database: string;
  name: string;
  createdAt: string;
  lsn?: string;
  timeline?: number;
}

/**
 * What the planner decides from: the backups; with WAL archiving, each database's WAL
 * view and its restore points. Without `wal`, base backups are kept (`NOT_PLANNED_YET`)
 * and no WAL is planned.
 */
export interface RetentionCatalog {
  backups: readonly BackupEntry[];
  wal?: readonly WalDatabaseView[];
  restorePoints?: readonly RestorePointView[];
}

/** One backup's fate. */
export interface RetentionDecision {
  subject: 'backup';
  id: string;
  database: string;
  tier: string;
  state: string;
  startedAt: string;
  action: RetentionAction;
  rule: RetentionRule;
  /** For humans and the INFO log: the rule with this entry's numbers. */
  reason: string;
  /** The entry as the catalog gave it (what markDeleting's condition must match). */
  entry: BackupEntry;
}

/**
 * One database's WAL fate: a cut-off per timeline (`delete`, WAL_CUTOFF or
 * FINISH_DELETION of a pending mark), or `keep` with the reason nothing is deleted.
 */
export interface WalDecision {
  subject: 'wal';
  database: string;
  action: 'keep' | 'delete';
  rule: RetentionRule;
  reason: string;
  /** Present when `action` is delete: what to mark and delete. */
  mark?: WalRetentionMark;
  /** The base backups the PITR window starts from (one per timeline in the window). */
  anchors: string[];
}

/** One restore point's fate. */
export interface RestorePointDecision {
  subject: 'restore-point';
  database: string;
  name: string;
  createdAt: string;
  action: 'keep' | 'delete';
  rule: RetentionRule;
  reason: string;
}

/** A plan: one decision per backup, per database's WAL and per restore point. */
export interface RetentionPlan {
  now: string;
  policy: RetentionPolicy;
  /** Backups, sorted by database, newest first, then id. */
  decisions: RetentionDecision[];
  /** Per database with a WAL view: pending finishes first, then the new cut-off. */
  wal: WalDecision[];
  /** Restore points, by database, newest first. */
  restorePoints: RestorePointDecision[];
  /** Per database: the newest VERIFIED full logical backup, which no rule deletes. */
  newestVerified: Array<{ database: string; id: string }>;
}
