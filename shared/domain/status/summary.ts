import type { ArchiveStatus } from '../../ports/wal-catalog';
import type { BackupEntry } from '../backup';
import { gapRanges } from '../wal/continuity';
import type { ArchiveLag, ArchivedSegment, TierSummary, ValidationSummary } from './model';

/**
 * The operational facts of `strongbox status`: the newest backup of each tier, the last
 * restore drill and its RTO, the archiver's lag. Pure: ages are counted from `now`.
 */

function ageSeconds(at: string, now: Date): number {
  return Math.round((now.getTime() - Date.parse(at)) / 1000);
}

function hasTime(value: unknown): value is string {
  return typeof value === 'string' && Number.isFinite(Date.parse(value));
}

/**
 * The newest backup of each kind and tier (by `startedAt`), ordered logical before base
 * and by tier name; with the newest VERIFIED one beside it when the newest is not.
 * Entries being deleted or without a readable start are left out.
 */
export function tierSummaries(backups: readonly BackupEntry[], now: Date): TierSummary[] {
  const newestFirst = backups.filter((entry) => !entry.deleting && hasTime(entry.startedAt)).sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.id.localeCompare(a.id));
  const groups = new Map<string, BackupEntry[]>();
  for (const entry of newestFirst) {
    const key = `${entry.kind}/${entry.tier}`;
    const group = groups.get(key);
    if (group) group.push(entry);
    else groups.set(key, [entry]);
  }
  const summaries: TierSummary[] = [];
  for (const entries of groups.values()) {
    const newest = entries[0]!;
    const verified = newest.state === 'VERIFIED' ? undefined : entries.find((entry) => entry.state === 'VERIFIED');
    summaries.push({
      kind: newest.kind,
      tier: newest.tier,
      backupId: newest.id,
      state: newest.state,
      startedAt: newest.startedAt,
      ageSeconds: ageSeconds(newest.startedAt, now),
      ...(verified ? { lastVerified: { backupId: verified.id, startedAt: verified.startedAt, ageSeconds: ageSeconds(verified.startedAt, now) } } : {}),
    });
  }
  return summaries.sort((a, b) => a.kind.localeCompare(b.kind) * -1 || a.tier.localeCompare(b.tier));
}

/**
 * The newest restore drill recorded on any backup (`lastValidation`), and the newest
 * successful one when the newest failed. Drills without a readable time are ignored.
 */
export function lastValidations(backups: readonly BackupEntry[], now: Date): { last?: ValidationSummary; lastGood?: ValidationSummary } {
  const drills = backups
    .filter((entry) => entry.lastValidation && hasTime(entry.lastValidation.at) && typeof entry.lastValidation.seconds === 'number')
    .map((entry): ValidationSummary => {
      const drill = entry.lastValidation!;
      return { backupId: entry.id, at: drill.at, ok: drill.ok === true, rtoSeconds: drill.seconds, ageSeconds: ageSeconds(drill.at, now), ...(drill.reason ? { reason: drill.reason } : {}) };
    })
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  const last = drills[0];
  const lastGood = last && !last.ok ? drills.find((drill) => drill.ok) : undefined;
  return { ...(last ? { last } : {}), ...(lastGood ? { lastGood } : {}) };
}

/**
 * The archiver's lag: what the last checkpoint measured, and the RPO now — the time since
 * the WAL became durable *in order*. The newest archived file (the catalog's newest record
 * or the measured status, whichever is newer) bounds it, but files archived ahead past a
 * hole do not count: the PITR window's end (`recoverable`, the last segment reachable
 * without a gap) bounds it then; with no window to tell holes by (no base backup), so does
 * PostgreSQL's own last in-order archive while its archiver is failing on a file (the
 * checkpoint's pg_stat_archiver reading). An upper bound: an idle server writes no WAL to lose.
 */
export function archiveLag(status: ArchiveStatus | undefined, newest: ArchivedSegment | undefined, now: Date, recoverable?: { until: string; lastSegment?: string }): ArchiveLag {
  const candidates: ArchivedSegment[] = [];
  if (newest && hasTime(newest.archivedAt)) candidates.push(newest);
  if (status?.lastArchivedWal && hasTime(status.lastArchivedAt)) candidates.push({ name: status.lastArchivedWal, archivedAt: status.lastArchivedAt });
  const latest = candidates.sort((a, b) => Date.parse(b.archivedAt) - Date.parse(a.archivedAt))[0];
  let durable = latest;
  let behindBecause: string | undefined;
  if (latest && recoverable?.lastSegment && hasTime(recoverable.until) && Date.parse(recoverable.until) < Date.parse(latest.archivedAt) && recoverable.lastSegment < latest.name) {
    durable = { name: recoverable.lastSegment, archivedAt: recoverable.until };
    behindBecause = `WAL after ${recoverable.lastSegment} is missing from the archive: ${latest.name} was archived past the hole`;
  }
  const stuck = status?.failedCount && status.lastFailedWal && hasTime(status.lastFailedAt) && (!hasTime(status.lastArchivedAt) || Date.parse(status.lastFailedAt) > Date.parse(status.lastArchivedAt));
  // Without a PITR window to tell holes (no base backup), PostgreSQL's own in-order point bounds it while it is stuck.
  if (!recoverable && stuck && status.lastArchivedWal && hasTime(status.lastArchivedAt) && (!durable || Date.parse(status.lastArchivedAt) < Date.parse(durable.archivedAt))) {
    durable = { name: status.lastArchivedWal, archivedAt: status.lastArchivedAt };
    behindBecause = `PostgreSQL's archiver is failing on ${status.lastFailedWal} (last failure ${status.lastFailedAt}) after ${status.lastArchivedWal}`;
  }
  return {
    ...(typeof status?.lagSeconds === 'number' ? { measuredLagSeconds: status.lagSeconds } : {}),
    ...(status && hasTime(status.measuredAt) ? { measuredAt: status.measuredAt } : {}),
    ...(latest ? { lastArchivedWal: latest.name, lastArchivedAt: latest.archivedAt } : {}),
    ...(durable ? { durableThroughWal: durable.name, durableThroughAt: durable.archivedAt, rpoNowSeconds: Math.max(0, ageSeconds(durable.archivedAt, now)) } : {}),
    ...(behindBecause ? { behindBecause } : {}),
    ...(status?.failedCount ? { failedCount: status.failedCount } : {}),
    ...(status?.lastFailedWal ? { lastFailedWal: status.lastFailedWal } : {}),
    ...(status?.lastFailedAt ? { lastFailedAt: status.lastFailedAt } : {}),
    ...reportedGap(status),
  };
}

/** The gap the last checkpoint reported: runs and counts, or (from checkpoints before ranges) the names it stored. */
function reportedGap(status: ArchiveStatus | undefined): Pick<ArchiveLag, 'reportedGap' | 'reportedGapSegments' | 'reportedGapRanges'> {
  let gaps = Array.isArray(status?.gaps) ? status.gaps : [];
  if (gaps.length === 0 && Array.isArray(status?.gap) && status.gap.length > 0) {
    try {
      gaps = gapRanges(status.gap);
    } catch {
      gaps = status.gap.map((name) => ({ first: name, last: name, count: 1 }));
    }
  }
  if (gaps.length === 0) return {};
  return {
    reportedGap: gaps,
    reportedGapSegments: typeof status?.gapSegments === 'number' ? status.gapSegments : gaps.reduce((sum, gap) => sum + gap.count, 0),
    reportedGapRanges: typeof status?.gapRanges === 'number' ? status.gapRanges : gaps.length,
  };
}
