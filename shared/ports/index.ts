import type { Compression, Tier } from '../domain/backup';

/**
 * Small contracts the use cases depend on besides storage and the catalog. Each has one
 * adapter per outside system (SNS or the console, ECS or a child process, Powertools
 * or stderr).
 */

/** Structured log lines: a message and keys, never a password or connection string. */
export interface Log {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** The runbook's severities: SEV1 total loss … SEV4 informational. */
export type Severity = 'SEV1' | 'SEV2' | 'SEV3' | 'SEV4';

/** Something an on-call engineer must know about. */
export interface Alert {
  /** Stable type, e.g. BACKUP_FAILED, CHECKSUM_MISMATCH. */
  type: string;
  severity: Severity;
  message: string;
  hint?: string;
  database?: string;
  backupId?: string;
  /** The error code behind it, when there is one. */
  code?: string;
  at: string;
  /**
   * Alerts with the same key are sent once per window (shared/domain/alerts/dedupe.ts).
   * Absent: derived from the type's registry entry (type, database, backup id…).
   */
  dedupeKey?: string;
  /** Set by the dedupe decorator: identical alerts suppressed since this key was last sent. */
  suppressed?: number;
}

/**
 * Publishes alerts (SNS in AWS, the console locally). Never throws: a failed publish is
 * logged, because an alert must not crash the function that raised it.
 */
export interface AlertPublisher {
  publish(alert: Alert): Promise<void>;
}

/**
 * A publisher that can tell whether an alert left: `send` throws (a StrongboxError) when
 * it did not, `publish` never throws. The dedupe decorator uses `send` to give back its
 * claim when delivery failed, so that the next repeat is not suppressed.
 */
export interface AlertSender extends AlertPublisher {
  send(alert: Alert): Promise<void>;
}

/** Whether an alert may be sent now (claim won) or repeats one sent within its window. */
export type DedupeClaim = { claimed: true; suppressedBefore: number } | { claimed: false };

/**
 * Remembers which dedupe keys were sent recently (DynamoDB in AWS, memory locally).
 * `claim` is atomic: of concurrent claims on one key within a window exactly one wins; a
 * lost claim is counted, and the next winning claim after the window reports that count.
 * Throws CatalogError (or another StrongboxError) when the store cannot be reached: the
 * caller then sends the alert anyway.
 */
export interface AlertDedupeStore {
  claim(key: string, now: Date, windowMs: number): Promise<DedupeClaim>;
  /** Gives back the claim made at `claimedAt` (its alert could not be sent). Never throws. */
  release(key: string, claimedAt: Date): Promise<void>;
}

/** One dump task to start: the ECS RunTask overrides, or a local child's environment. */
export interface DumpTaskRequest {
  database: string;
  tier: Tier;
  backupId: string;
  /** The Secrets Manager ARN holding the database credentials (AWS); the task reads it itself. */
  secretArn?: string;
  /** How to compress the dump, when not the default (gzip). */
  compression?: Compression;
  /** A logical backup's data parts (STRONGBOX_DUMP_JOBS, docs/backups.md); absent: the task chooses. */
  dumpJobs?: number;
  /** `base` takes a physical base backup (pg_basebackup) instead of a logical one (the default). */
  type?: 'logical' | 'base';
  /**
   * vCPU (CPU units) and memory (MiB) for a database bigger than the task definition's size
   * (shared/domain/task-sizing.ts): RunTask's cpu/memory overrides. Absent: the task definition's.
   */
  compute?: { cpu: number; memory: number };
}

/** Starts the dump program somewhere else (ECS Fargate, or a local child process). */
export interface TaskLauncher {
  /** Returns an identifier of the started task (task ARN or `pid:N`). Throws TaskLaunchError. */
  launch(request: DumpTaskRequest): Promise<{ runner: string }>;
}

/**
 * Whether a process on this host is alive (local mode: `process.kill(pid, 0)`), so that a
 * lock held by a dead local process is taken over at once instead of after its heartbeat
 * goes stale.
 */
export interface ProcessProbe {
  /** This host's name, as local runners record it (`pid:1234@host`). */
  readonly hostname: string;
  /** True when a process with this pid exists on this host (also when it belongs to another user). */
  isAlive(pid: number): boolean;
}

/**
 * Asks for a stored backup's verification again (the watchdog, for an entry left UPLOADED):
 * in AWS its manifest's ObjectCreated event is published again to the topic the checksum
 * function listens on; locally the checksum handler runs on it in-process. Throws a
 * StrongboxError when the request could not be made.
 */
export interface Reverifier {
  reverify(manifestKey: string): Promise<void>;
}

/** The moment now; injected so that use cases stay testable. */
export type Clock = () => Date;

/** A log that drops everything (tests, quiet CLI runs). */
export const silentLog: Log = { info() {}, warn() {}, error() {} };
