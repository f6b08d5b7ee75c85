/**
 * The metrics the functions publish (CloudWatch EMF in AWS, a log line locally), and the
 * port they record them through. deploy/alarms.yml alarms on these names: a renamed metric
 * must be renamed there too (test/deploy/safety.test.ts checks both). The ECS tasks' metrics
 * (ValidationRtoSeconds, ValidationsFailed, BackupTasksFailed) are not here: the awslogs
 * driver does not extract EMF, so metric filters in deploy/ecs.yml read the tasks' result lines.
 */

/** CloudWatch namespace of every Strongbox metric. */
export const METRICS_NAMESPACE = 'Strongbox';

/** Each metric's name and unit. */
export const METRIC_UNITS = {
  /** Bytes of a backup that became VERIFIED. */
  BackupBytes: 'Bytes',
  /** Start of the dump to VERIFIED, in seconds. */
  BackupDurationSeconds: 'Seconds',
  /** One per backup that became VERIFIED. */
  BackupsVerified: 'Count',
  /** One per backup that became FAILED (checksum mismatch, unreadable manifest). */
  BackupsFailed: 'Count',
  /** Seconds from a WAL switch until it was archived (the measured RPO); a lower bound while archiving is stuck. */
  ArchiveLagSeconds: 'Seconds',
  /** One per WAL file newly stored by the archive endpoint. */
  WalSegmentsArchived: 'Count',
  /** Findings of one dead man's switch run (0 when all is well, so that silence is visible too). */
  DeadmanFindings: 'Count',
} as const;

export type MetricName = keyof typeof METRIC_UNITS;
export type MetricUnit = (typeof METRIC_UNITS)[MetricName];

/**
 * Records metrics. `record` never throws (a metric must not fail the work it measures);
 * `flush` writes what was recorded (EMF: one JSON line on stdout) and never throws either.
 * `database` travels as a property of the line, not as a dimension: alarms watch the
 * service as a whole, and the log line says which database it was.
 */
export interface Metrics {
  record(name: MetricName, value: number, context?: { database?: string; [key: string]: string | number | undefined }): void;
  flush(): void;
}

/** Metrics that go nowhere (tests, CLI commands). */
export const noMetrics: Metrics = { record() {}, flush() {} };
