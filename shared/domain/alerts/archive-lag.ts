/**
 * The archive lag's two thresholds: a SEV4 warning once WAL takes over a minute to be
 * archived (the archive_timeout Strongbox recommends: the RPO it can keep), and the SEV2
 * alert once it exceeds the promised RPO (the runbook's 5 minutes by default).
 */

/** The default thresholds, in seconds. */
export const ARCHIVE_LAG_WARNING_SECONDS = 60;
export const ARCHIVE_LAG_RPO_SECONDS = 300;

/** The thresholds a measurement is judged against. */
export interface ArchiveLagThresholds {
  warningSeconds?: number;
  rpoSeconds?: number;
}

/**
 * Which alert a measured lag calls for: `ARCHIVE_LAG` over the RPO, `ARCHIVE_LAG_WARNING`
 * over the warning threshold, undefined when within both (or when the lag is unknown).
 * Both thresholds are exclusive: a lag of exactly 60 s is fine.
 */
export function archiveLagAlertType(lagSeconds: number | undefined, thresholds: ArchiveLagThresholds = {}): 'ARCHIVE_LAG' | 'ARCHIVE_LAG_WARNING' | undefined {
  if (lagSeconds === undefined || !Number.isFinite(lagSeconds)) return undefined;
  const rpo = thresholds.rpoSeconds ?? ARCHIVE_LAG_RPO_SECONDS;
  const warning = Math.min(thresholds.warningSeconds ?? ARCHIVE_LAG_WARNING_SECONDS, rpo);
  if (lagSeconds > rpo) return 'ARCHIVE_LAG';
  if (lagSeconds > warning) return 'ARCHIVE_LAG_WARNING';
  return undefined;
}
