import { pitrDrillHistory } from './drills';
import { logicalWindow } from './logical';
import type { DatabaseStatus, NamedPointStatus, PitrWindow, StatusInput, TimelineStatus, WalView } from './model';
import { pitrWindow } from './pitr';
import { archiveLag, lastValidations, tierSummaries } from './summary';

export type * from './model';
export { logicalWindow, isRestorable } from './logical';
export { pitrWindow } from './pitr';
export { pitrDrillHistory, type PitrDrillSummary } from './drills';
export { archiveLag, lastValidations, tierSummaries } from './summary';

/** Every archived timeline with whether the live server is on it and the flag to follow it. */
export function timelineStatuses(wal: WalView | undefined): TimelineStatus[] {
  if (!wal) return [];
  const followed = wal.followed ?? wal.path.at(-1)?.timeline;
  const known = wal.timelines ?? wal.path.map((stretch) => ({ timeline: stretch.timeline, highestName: '' }));
  return known.map((timeline) => ({ ...timeline, live: wal.live?.timeline === timeline.timeline, followed: timeline.timeline === followed, flag: `--timeline ${timeline.timeline}` }));
}

/** The named restore points, oldest first, each reachable when a PITR range holds its moment. */
export function namedPoints(points: StatusInput['restorePoints'], pitr: PitrWindow): NamedPointStatus[] {
  return (points ?? [])
    .filter((point) => Number.isFinite(Date.parse(point.createdAt)))
    .map((point) => {
      const at = new Date(point.createdAt).toISOString();
      const reachable = pitr.ranges.some((range) => at >= range.from && at <= range.to);
      return { name: point.name, at, lsn: point.lsn, timeline: point.timeline, reachable };
    })
    .sort((a, b) => (a.at === b.at ? a.name.localeCompare(b.name) : a.at < b.at ? -1 : 1));
}

/**
 * `strongbox status` for one database at `now`: the logical and PITR restore windows,
 * WAL gaps, the newest backup of each tier, the last restore drill (RTO) and the
 * archiver's lag (RPO now). Pure and deterministic for the same input and `now`; a
 * damaged entry is left out and named in `warnings`, never thrown on.
 */
export function databaseStatus(input: StatusInput, now: Date): DatabaseStatus {
  const warnings = [...(input.wal?.warnings ?? [])];
  const usable = input.backups.filter((entry) => {
    const ok = typeof entry.id === 'string' && typeof entry.kind === 'string' && typeof entry.tier === 'string' && typeof entry.state === 'string' && typeof entry.startedAt === 'string' && Number.isFinite(Date.parse(entry.startedAt));
    if (!ok) warnings.push(`catalog entry ${String((entry as { id?: unknown }).id ?? '(no id)')} lacks a field: left out`);
    return ok;
  });
  const future = usable.filter((entry) => Date.parse(entry.startedAt) > now.getTime());
  if (future.length) warnings.push(`${future.length} backup(s) started after now (${future.map((entry) => entry.id).slice(0, 3).join(', ')}): clock skew between the writer and this machine`);
  const pitr = pitrWindow(usable, input.wal, warnings);
  if (pitr.gaps.length) {
    const count = pitr.gaps.reduce((sum, gap) => sum + gap.count, 0);
    warnings.push(`${count} WAL segment(s) missing in ${pitr.gaps.length} gap(s): moments inside them cannot be restored; take a base backup after the last gap`);
  }
  const { last, lastGood } = lastValidations(usable, now);
  const drills = pitrDrillHistory(usable, now);
  return {
    database: input.database,
    now: now.toISOString(),
    logical: logicalWindow(usable, now),
    pitr,
    restorePoints: namedPoints(input.restorePoints, pitr),
    timelines: timelineStatuses(input.wal),
    ...(input.wal?.live ? { liveTimeline: input.wal.live } : {}),
    tiers: tierSummaries(usable, now),
    ...(last ? { lastValidation: last } : {}),
    ...(lastGood ? { lastGoodValidation: lastGood } : {}),
    ...(drills.length ? { pitrDrills: drills } : {}),
    archive: archiveLag(input.archiveStatus, input.wal?.newest, now, pitr.available && pitr.to ? { until: pitr.to, ...(pitr.ranges.at(-1)?.lastSegment ? { lastSegment: pitr.ranges.at(-1)!.lastSegment! } : {}) } : undefined),
    warnings,
  };
}
export { statusHtml } from './html';
export { formatDuration, formatTime } from './format';
