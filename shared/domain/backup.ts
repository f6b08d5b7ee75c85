/**
 * The catalog's model of a backup, and the rules for moving it between states.
 * Pure: no I/O, no clock.
 */

export const TIERS = ['manual', 'pre-migration', 'daily', 'weekly', 'monthly'] as const;
export type Tier = (typeof TIERS)[number];

export const BACKUP_STATES = ['RUNNING', 'UPLOADED', 'VERIFIED', 'FAILED'] as const;
export type BackupState = (typeof BACKUP_STATES)[number];

/** `logical` is pg_dump; `base` (pg_basebackup) comes with WAL archiving. */
export type BackupKind = 'logical' | 'base';

/** A full backup holds the whole database (and its globals); a tables backup only some tables. */
export type BackupScope = 'full' | 'tables';

/** How the stored dump is compressed: pg_dump's own gzip, or `pg_dump -Z0 | zstd`. */
export type Compression = 'gzip' | 'zstd';

/** How a base backup's tar is stored: through `zstd`, or as it is. */
export type BaseCompression = 'zstd' | 'none';

/** How any stored backup is compressed (`none` only for a base backup). */
export type StoredCompression = Compression | BaseCompression;

/**
 * What a base backup (pg_basebackup) records for point-in-time recovery. LSNs are written
 * as PostgreSQL prints them (`0/2000028`); WAL names are 24-hex segment names.
 */
export interface BaseBackupInfo {
  /** Where the backup's WAL starts (its checkpoint's redo point). */
  startLsn: string;
  /** Where the backup became consistent: recovery must replay at least to here. */
  stopLsn: string;
  /** The timeline at the start. */
  timeline: number;
  /** The timeline at the end: differs from `timeline` on a standby that followed its upstream onto a new timeline meanwhile. */
  stopTimeline: number;
  /** The cluster's system identifier (decimal), as in the WAL archive's identity. */
  systemId: string;
  /** PostgreSQL's major version, e.g. 15. */
  pgVersion: number;
  /** The first and last WAL segment needed for consistency (start and stop timeline). */
  walSegments: { first: string; last: string };
  /** The text of the backup's backup_label file. */
  label: string;
  /** True when that WAL is inside the backup (pg_basebackup -X fetch): it restores without the archive. */
  walIncluded: boolean;
}

/** The result of the last restore drill on a backup; kept apart from `state`. */
export interface ValidationResult {
  at: string;
  ok: boolean;
  seconds: number;
  reason?: string;
}

/**
 * A physical drill (`validate --pitr`) of a logical backup's instant: a scratch cluster recovered
 * from a base backup and the archive's WAL to the instant of the backup's snapshot, compared
 * with its manifest, then checked by pg_amcheck. Kept on the logical backup it drilled.
 */
export interface PitrDrillResult {
  at: string;
  ok: boolean;
  /** The recovery time: the base backup's fetch and unpack, and the WAL's replay to the instant. */
  rtoSeconds: number;
  /** WAL replayed per second, in MB (10^6 bytes). */
  replayMBps?: number;
  /** The archive's lag when the drill planned (what a recovery at that moment would lose). */
  rpoSeconds?: number;
  /** The base backup it recovered from. */
  baseBackupId?: string;
  /** Tables compared exactly, and left out (each reason in the drill's report). */
  compared?: number;
  notCompared?: number;
  reason?: string;
}

/** One backup as the catalog records it. Times are ISO-8601 UTC strings. */
export interface BackupEntry {
  id: string;
  database: string;
  kind: BackupKind;
  tier: Tier;
  scope: BackupScope;
  /** The `--table` patterns of a tables backup. */
  tables?: string[];
  state: BackupState;
  /** Why the entry is FAILED (or a warning on a VERIFIED one). */
  reason?: string;
  /** The stable code of the error that failed it. */
  errorCode?: string;
  /** Storage key of the dump. */
  key: string;
  /** Storage key of the manifest (written last). */
  manifestKey: string;
  /** Storage key of the globals (roles, tablespaces) of a full backup. */
  globalsKey?: string;
  /** A parallel (streams) backup: the keys of its data and post-data parts (`key` is its pre-data part). */
  partKeys?: string[];
  compression: StoredCompression;
  bytes?: number;
  sha256?: string;
  startedAt: string;
  finishedAt?: string;
  /** Last sign of life of the task writing it; a RUNNING entry with a stale heartbeat is FAILED by the watchdog. */
  heartbeatAt: string;
  /** Where the writer runs: an ECS task ARN, or `pid:1234@host` locally. */
  runner?: string;
  lastValidation?: ValidationResult;
  /** The last physical drill to this (logical) backup's instant. */
  lastPitrDrill?: PitrDrillResult;
  /**
   * A manual or pre-migration backup may be deleted by retention after this moment
   * (ISO-8601 UTC); on a scheduled tier it can only lengthen the tier's window.
   */
  expiresAt?: string;
  /**
   * Set by retention before it deletes the backup's objects (catalog first, then
   * storage): `rule` is why. An entry carrying it is no longer a restore source; the
   * next retention run finishes the deletion if this one stopped half-way.
   */
  deleting?: { at: string; rule: string };
  /** Set on a base backup (kind `base`) once it is uploaded. */
  base?: BaseBackupInfo;
  /**
   * Set by the watchdog on an UPLOADED entry that was not VERIFIED in time: when it last
   * asked for its verification again, and how many times (shared/domain/unverified.ts).
   */
  reverify?: { at: string; attempts: number };
}

/** Allowed transitions. FAILED and VERIFIED are final (a VERIFIED entry can only fail on a later checksum). */
const NEXT: Record<BackupState, readonly BackupState[]> = {
  RUNNING: ['UPLOADED', 'VERIFIED', 'FAILED'],
  UPLOADED: ['VERIFIED', 'FAILED'],
  VERIFIED: ['FAILED'],
  FAILED: [],
};

/** True when an entry in `from` may move to `to`. */
export function canTransition(from: BackupState, to: BackupState): boolean {
  return NEXT[from].includes(to);
}

/** The states from which `to` may be reached, for conditional writes. */
export function statesBefore(to: BackupState): BackupState[] {
  return BACKUP_STATES.filter((from) => canTransition(from, to));
}

/** A final entry will not change again on its own: a command that wrote it may return. */
export function isFinal(state: BackupState): boolean {
  return state === 'VERIFIED' || state === 'FAILED';
}

/**
 * The RUNNING entries whose writer stopped heart-beating: their heartbeat is older
 * than `staleAfterMs` at `now`. They are to be marked FAILED.
 */
export function staleRunning(entries: readonly BackupEntry[], now: Date, staleAfterMs: number): BackupEntry[] {
  const limit = now.getTime() - staleAfterMs;
  return entries.filter((entry) => entry.state === 'RUNNING' && Date.parse(entry.heartbeatAt) < limit);
}
