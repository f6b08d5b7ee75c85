import type { Severity } from '../../ports';

/**
 * Every alert type Strongbox raises, with its severity (the runbook's SEV1..SEV4), what
 * makes two alerts "the same" for deduplication, and how long a repeat stays quiet.
 * Pure data: docs/alerts.md describes the same list for people, and a unit test checks
 * that every type published anywhere in the code is listed here.
 *
 * Severities follow the runbook's table: SEV1 total data loss (declared by a person;
 * no automatic alert claims it), SEV2 corruption detected or the recovery objectives at
 * risk (PITR needed or impossible), SEV3 housekeeping that loses nothing yet, SEV4
 * degradation to look at during working hours. The one SEV1 is a failed restore: it
 * happens while someone is already recovering from loss.
 */

/** What identifies "the same problem" besides the type. */
export type DedupeScope =
  /** One message per backup id (shared by every backup-scoped type); per database without an id. */
  | 'backup'
  /** One message per database. */
  | 'database'
  /** One message per database and alert code (e.g. which schedule fell silent). */
  | 'database-code';

/** A registered alert type. */
export interface AlertTypeSpec {
  severity: Severity;
  /** A short title for message headers. */
  title: string;
  scope: DedupeScope;
  /** Repeats within this many seconds after a sent alert are suppressed. */
  windowSeconds: number;
}

const HOUR = 3_600;
const DAY = 24 * HOUR;

/** The registry. Keys are the stable `Alert.type` values. */
export const ALERT_TYPES = {
  BACKUP_FAILED: { severity: 'SEV2', title: 'Backup failed', scope: 'backup', windowSeconds: DAY },
  BACKUP_LAUNCH_FAILED: { severity: 'SEV2', title: 'Backup could not be started', scope: 'backup', windowSeconds: DAY },
  BACKUP_STALLED: { severity: 'SEV2', title: 'Backup stopped heart-beating', scope: 'backup', windowSeconds: DAY },
  BACKUP_INCOMPLETE: { severity: 'SEV2', title: 'Backup incomplete in storage', scope: 'backup', windowSeconds: DAY },
  BACKUP_UNVERIFIED: { severity: 'SEV2', title: 'Backup never verified', scope: 'backup', windowSeconds: DAY },
  TASK_FAILED: { severity: 'SEV2', title: 'Backup task failed', scope: 'backup', windowSeconds: DAY },
  CHECKSUM_MISMATCH: { severity: 'SEV2', title: 'Checksum mismatch', scope: 'backup', windowSeconds: DAY },
  MANIFEST_INVALID: { severity: 'SEV2', title: 'Manifest unreadable', scope: 'database-code', windowSeconds: HOUR },
  WAL_CONFLICT: { severity: 'SEV2', title: 'WAL segment archived twice with different bytes', scope: 'database', windowSeconds: HOUR },
  WAL_OBJECT_INVALID: { severity: 'SEV2', title: 'WAL record without its bytes', scope: 'database', windowSeconds: HOUR },
  WAL_DAMAGED: { severity: 'SEV2', title: 'Archived WAL file damaged (no longer counts as archived)', scope: 'database', windowSeconds: HOUR },
  WAL_GAP: { severity: 'SEV2', title: 'Gap in the WAL archive', scope: 'database', windowSeconds: 6 * HOUR },
  WAL_EVENTS_LOST: { severity: 'SEV3', title: 'WAL files indexed by reconciliation (events lost)', scope: 'database', windowSeconds: DAY },
  ARCHIVE_LAG: { severity: 'SEV2', title: 'Archive lag over the RPO', scope: 'database', windowSeconds: HOUR },
  ARCHIVE_LAG_WARNING: { severity: 'SEV4', title: 'Archive lag over a minute', scope: 'database', windowSeconds: 6 * HOUR },
  ARCHIVE_FAILING: { severity: 'SEV2', title: 'WAL archiving is failing', scope: 'database', windowSeconds: HOUR },
  WAL_CHECKPOINT_FAILED: { severity: 'SEV2', title: 'WAL checkpoint failed', scope: 'database', windowSeconds: HOUR },
  VALIDATION_FAILED: { severity: 'SEV2', title: 'Restore drill failed', scope: 'backup', windowSeconds: DAY },
  RETENTION_FAILED: { severity: 'SEV3', title: 'Retention failed', scope: 'database', windowSeconds: DAY },
  DISPATCH_FAILED: { severity: 'SEV2', title: 'Scheduled jobs could not be started', scope: 'database', windowSeconds: HOUR },
  DEADMAN_SILENCE: { severity: 'SEV2', title: 'Expected activity did not happen', scope: 'database-code', windowSeconds: 6 * HOUR },
  // Raised by the state machines (deploy/stepfunctions.yml) straight to the topic, not deduplicated.
  RESTORE_FINISHED: { severity: 'SEV4', title: 'Restore finished', scope: 'database-code', windowSeconds: HOUR },
  RESTORE_FAILED: { severity: 'SEV1', title: 'Restore failed', scope: 'database-code', windowSeconds: HOUR },
  RESTORE_TABLE_FINISHED: { severity: 'SEV4', title: 'Table restore finished', scope: 'database-code', windowSeconds: HOUR },
  RESTORE_TABLE_FAILED: { severity: 'SEV2', title: 'Table restore failed', scope: 'database-code', windowSeconds: HOUR },
  // Raised by CloudWatch alarms (deploy/alarms.yml) on the topic; notifySlack translates them.
  // Their severity comes from the alarm's description ("SEV2 - …"); SEV3 when it has none.
  CLOUDWATCH_ALARM: { severity: 'SEV3', title: 'CloudWatch alarm', scope: 'database-code', windowSeconds: HOUR },
  CLOUDWATCH_ALARM_OK: { severity: 'SEV4', title: 'CloudWatch alarm recovered', scope: 'database-code', windowSeconds: HOUR },
} as const satisfies Record<string, AlertTypeSpec>;

/** A registered alert type name. */
export type AlertType = keyof typeof ALERT_TYPES;

/** What an unregistered type gets: its own severity, one message per database and code an hour. */
export const UNKNOWN_TYPE_SPEC: Omit<AlertTypeSpec, 'severity' | 'title'> = { scope: 'database-code', windowSeconds: HOUR };

/** True when `type` is in the registry. */
export function isAlertType(type: string): type is AlertType {
  return Object.hasOwn(ALERT_TYPES, type);
}

/** The registry entry of `type`, or undefined for a type nobody registered. */
export function alertTypeSpec(type: string): AlertTypeSpec | undefined {
  return isAlertType(type) ? ALERT_TYPES[type] : undefined;
}
