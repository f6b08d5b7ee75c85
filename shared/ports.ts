import type { Compression, Tier } from './domain/backup';

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
}

/**
 * Publishes alerts (SNS in AWS, the console locally). Never throws: a failed publish is
 * logged, because an alert must not crash the function that raised it.
 */
export interface AlertPublisher {
  publish(alert: Alert): Promise<void>;
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
  /** `base` takes a physical base backup (pg_basebackup) instead of a logical one (the default). */
  type?: 'logical' | 'base';
}

/** Starts the dump program somewhere else (ECS Fargate, or a local child process). */
export interface TaskLauncher {
  /** Returns an identifier of the started task (task ARN or `pid:N`). Throws TaskLaunchError. */
  launch(request: DumpTaskRequest): Promise<{ runner: string }>;
}

/** The moment now; injected so that use cases stay testable. */
export type Clock = () => Date;

/** A log that drops everything (tests, quiet CLI runs). */
export const silentLog: Log = { info() {}, warn() {}, error() {} };
