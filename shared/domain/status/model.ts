import type { PitrDrillSummary } from './drills';
import type { ArchiveStatus, RestorePoint } from '../../ports/wal-catalog';
import type { BackupEntry, BackupKind, BackupScope, BackupState, Tier } from '../backup';
import type { GapRange } from '../wal/continuity';
import type { TimelineSegment } from '../wal/history';
import type { WalRange } from '../wal/ranges';
import type { LiveTimelineEvidence } from '../wal/live-timeline';

/**
 * The shapes of `strongbox status`: what it reads (StatusInput) and what it tells
 * (DatabaseStatus). Pure types; times are ISO-8601 UTC strings, durations seconds.
 */

/** One archived WAL segment as status needs it. */
export interface ArchivedSegment {
  name: string;
  archivedAt: string;
}

/** One timeline the archive holds WAL of. */
export interface ArchivedTimeline {
  timeline: number;
  /** Its highest archived segment name. */
  highestName: string;
  /** The timeline it branched off, and where (from its history file). */
  parent?: number;
  branchLsn?: string;
}

/** The WAL archive of one database, as read from the WAL catalog. */
export interface WalView {
  /** The timelines recovery follows to the followed one (the live server's), oldest first. */
  path: readonly TimelineSegment[];
  /** Every timeline the archive has, oldest first (absent: only the path's are known). */
  timelines?: readonly ArchivedTimeline[];
  /** The timeline the path leads to (default: the last of `path`). */
  followed?: number;
  /** What says which timeline the live server is on, when anything does. */
  live?: LiveTimelineEvidence;
  /**
   * The archived ranges of the path's timelines (`WalCatalog.listRanges`), any order: what
   * status computes from, whatever the number of segments.
   */
  ranges?: readonly WalRange[];
  /** Or, for small views (tests, hand-made catalogs), the archived segments themselves, any order. */
  segments?: readonly ArchivedSegment[];
  /** When the segments at the ends a timeline switch or the oldest base backup cut out of a range were archived, by name. */
  endTimes?: Readonly<Record<string, string>>;
  segmentSize: number;
  /** The newest WAL file recorded on any timeline, with when it was archived. */
  newest?: ArchivedSegment;
  /** Why the view is incomplete (e.g. a history file missing), for the warnings. */
  warnings?: string[];
}

/** Everything status computes from, for one database. */
export interface StatusInput {
  database: string;
  /** The database's catalog entries, any kind and state. */
  backups: readonly BackupEntry[];
  /** Undefined when nothing was ever archived for the database. */
  wal?: WalView;
  archiveStatus?: ArchiveStatus;
  /** The named restore points of the database (`strongbox restore-point`), any order. */
  restorePoints?: readonly RestorePoint[];
}

/** A backup one can restore from, at one point in time. */
export interface RestorePointInTime {
  backupId: string;
  kind: BackupKind;
  tier: Tier;
  scope: BackupScope;
  /** The moment the backup holds: a dump's snapshot (its start), a base backup's end. */
  at: string;
}

/** Logical backups: restorable to the moments of the VERIFIED dumps, and only those. */
export interface LogicalWindow {
  /** The oldest and newest moment a full VERIFIED dump holds. */
  from?: string;
  to?: string;
  /** Every VERIFIED dump (full and tables), newest first. */
  points: RestorePointInTime[];
}

/** A stretch of time any moment of which point-in-time recovery can reach. */
export interface PitrRange {
  from: string;
  to: string;
  /** The base backups that start this stretch (oldest first). */
  baseBackupIds: string[];
  /** The last segment replayed without a gap. */
  lastSegment?: string;
}

/** Consecutive missing segments, placed in time by their archived neighbours. */
export interface WalGap {
  first: string;
  last: string;
  count: number;
  /** When the segment before the gap was archived (the gap starts after it). */
  after?: string;
  /** When the segment after the gap was archived (the gap ends before it). */
  before?: string;
}

/** Point-in-time recovery: base backups plus continuous WAL. */
export interface PitrWindow {
  available: boolean;
  /** Earliest and latest reachable moment (the ends of `ranges`). */
  from?: string;
  to?: string;
  ranges: PitrRange[];
  /** The VERIFIED base backups on the timeline path, oldest first. */
  baseBackups: Array<RestorePointInTime & { startLsn: string; stopLsn: string; timeline: number }>;
  /** The VERIFIED base backups that cannot start a recovery along the path (another timeline), with why. */
  otherBaseBackups: Array<{ backupId: string; at: string; timeline: number; reason: string }>;
  gaps: WalGap[];
  /** Timelines followed, oldest first. */
  timelines: number[];
  /** Archived segments from the oldest base backup on (what the picture's bar covers). */
  archivedSegments: number;
  firstArchived?: ArchivedSegment;
  lastArchived?: ArchivedSegment;
  /** Why point-in-time recovery is not available, when it is not. */
  reason?: string;
}

/** The newest backup of one kind and tier. */
export interface TierSummary {
  kind: BackupKind;
  tier: Tier;
  backupId: string;
  state: BackupState;
  startedAt: string;
  /** Seconds between its start and now (negative: from the future, clock skew). */
  ageSeconds: number;
  /** The newest VERIFIED one of this tier, when the newest is not VERIFIED. */
  lastVerified?: { backupId: string; startedAt: string; ageSeconds: number };
}

/** The newest restore drill (`strongbox validate`): its outcome and the RTO it measured. */
export interface ValidationSummary {
  backupId: string;
  at: string;
  ok: boolean;
  /** How long the drill's restore took: the measured RTO. */
  rtoSeconds: number;
  ageSeconds: number;
  reason?: string;
}

/** The archiver's lag: how much committed work a loss of the server would cost now. */
export interface ArchiveLag {
  /** The lag the last WAL checkpoint measured (`ArchiveStatus.lagSeconds`). */
  measuredLagSeconds?: number;
  measuredAt?: string;
  /** The newest archived WAL file and when it became durable. */
  lastArchivedWal?: string;
  lastArchivedAt?: string;
  /**
   * now − durableThroughAt: the upper bound of what a loss of the server now would cost
   * (the RPO now). Not the newest file's age when files were archived past a hole, or while
   * PostgreSQL's own archiver is stuck: what follows the hole is not recoverable.
   */
  rpoNowSeconds?: number;
  /** The last WAL file up to which everything is archived in order, and when. */
  durableThroughWal?: string;
  durableThroughAt?: string;
  /** Why the durable point is behind the newest archived file: a hole in the archive, or PostgreSQL stuck on a file. */
  behindBecause?: string;
  failedCount?: number;
  lastFailedWal?: string;
  lastFailedAt?: string;
  /** Runs of missing segments the last checkpoint reported (at most the first 100). */
  reportedGap?: GapRange[];
  /** How many segments, in how many runs, it reported missing in all. */
  reportedGapSegments?: number;
  reportedGapRanges?: number;
}

/** A timeline of the archive as status tells it. */
export interface TimelineStatus extends ArchivedTimeline {
  /** The live server is on it (as the newest evidence says). */
  live: boolean;
  /** Status and recoveries follow it by default. */
  followed: boolean;
  /** The flag that makes `strongbox pitr` follow it. */
  flag: string;
}

/** A named restore point (`pitr --name`), placed in time, and whether the PITR window reaches it. */
export interface NamedPointStatus {
  name: string;
  at: string;
  lsn: string;
  timeline: number;
  /** Inside one of the PITR ranges (by time): `strongbox pitr --name` can stop there. */
  reachable: boolean;
}

/** `strongbox status` for one database at `now`. */
export interface DatabaseStatus {
  database: string;
  now: string;
  logical: LogicalWindow;
  pitr: PitrWindow;
  /** The named restore points, oldest first. */
  restorePoints: NamedPointStatus[];
  /** Every archived timeline, oldest first; which one the live server is on. */
  timelines: TimelineStatus[];
  liveTimeline?: LiveTimelineEvidence;
  tiers: TierSummary[];
  lastValidation?: ValidationSummary;
  /** The newest successful drill, when the newest one failed. */
  lastGoodValidation?: ValidationSummary;
  /** Physical drills (`validate --pitr`), newest first: RTO and RPO over time (drills.ts). */
  pitrDrills?: PitrDrillSummary[];
  archive: ArchiveLag;
  /** Things to look at: entries skipped as unreadable, clock skew, gaps, missing history. */
  warnings: string[];
}
