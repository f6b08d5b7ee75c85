import type { BackupEntry } from '../backup';
import { timelineForSegment } from '../wal/continuity';
import { isOnPath } from '../wal/history';
import { formatLsn, parseLsn, segmentName, segmentStartLsn, segnoOfLsn, type Lsn } from '../wal/names';
import { coverageGaps, coveredAt, namedGaps, pathCoverage, rangesOfSegments, type RangeEnd, type WalRange } from '../wal/ranges';
import { isRestorable } from './logical';
import type { PitrRange, PitrWindow, WalGap, WalView } from './model';

/**
 * The point-in-time recovery window: from the end of the oldest VERIFIED base backup on
 * the timeline path to the last WAL segment archived without a gap after it, split where
 * segments are missing. Pure.
 *
 * Times of WAL come from the catalog: a segment's moment is when it was archived (its
 * last commit is at or before that), so a range ends at the archive time of its last
 * contiguous segment — the same bound `strongbox pitr` plans with.
 */

interface Base {
  entry: BackupEntry;
  startLsn: Lsn;
  stopLsn: Lsn;
  timeline: number;
  finishedAt: string;
  walIncluded: boolean;
}

function baseOf(entry: BackupEntry): Base | undefined {
  if (entry.kind !== 'base' || !isRestorable(entry) || !entry.base || !entry.finishedAt || !Number.isFinite(Date.parse(entry.finishedAt))) return undefined;
  try {
    return {
      entry,
      startLsn: parseLsn(entry.base.startLsn),
      stopLsn: parseLsn(entry.base.stopLsn),
      timeline: entry.base.timeline,
      finishedAt: new Date(entry.finishedAt).toISOString(),
      walIncluded: entry.base.walIncluded === true,
    };
  } catch {
    return undefined;
  }
}

const later = (a: string, b: string) => (Date.parse(a) >= Date.parse(b) ? a : b);

/** Joins ranges that touch or overlap (sorted by start). */
function mergeRanges(ranges: PitrRange[]): PitrRange[] {
  const merged: PitrRange[] = [];
  for (const range of [...ranges].sort((a, b) => Date.parse(a.from) - Date.parse(b.from))) {
    const open = merged.at(-1);
    if (open && Date.parse(range.from) <= Date.parse(open.to)) {
      open.baseBackupIds.push(...range.baseBackupIds);
      if (Date.parse(range.to) >= Date.parse(open.to)) {
        open.to = range.to;
        if (range.lastSegment) open.lastSegment = range.lastSegment;
      }
    } else {
      merged.push({ ...range, baseBackupIds: [...range.baseBackupIds] });
    }
  }
  return merged;
}

/**
 * The PITR window of one database from its catalog entries and its WAL view. Warnings
 * (base backups off the timeline path, or whose WAL is neither archived nor included) go
 * to `warnings`. Never throws for a damaged entry: it is left out and named.
 */
export function pitrWindow(backups: readonly BackupEntry[], wal: WalView | undefined, warnings: string[]): PitrWindow {
  const others: PitrWindow['otherBaseBackups'] = [];
  const empty = (reason: string, timelines: number[] = []): PitrWindow => ({ available: false, ranges: [], baseBackups: [], otherBaseBackups: others, gaps: [], timelines, archivedSegments: 0, reason });
  const candidates = backups.filter((entry) => entry.kind === 'base' && isRestorable(entry));
  const bases = candidates.map(baseOf).filter((base): base is Base => base !== undefined);
  for (const entry of candidates) if (!bases.some((base) => base.entry === entry)) warnings.push(`base backup ${entry.id} has no readable LSNs or end time: not counted as a restore source`);
  if (!wal || wal.path.length === 0) return empty(bases.length ? 'no WAL is archived: base backups restore only to their own end' : 'no WAL is archived and there is no VERIFIED base backup');
  const timelines = wal.path.map((stretch) => stretch.timeline);
  const onPath = bases.filter((base) => isOnPath(wal.path, base.timeline, base.startLsn)).sort((a, b) => (a.stopLsn < b.stopLsn ? -1 : a.stopLsn > b.stopLsn ? 1 : 0));
  for (const base of bases) {
    if (onPath.includes(base)) continue;
    warnings.push(`base backup ${base.entry.id} (timeline ${base.timeline}) is not on the way to timeline ${timelines.at(-1)}: it cannot start a recovery along it (--timeline ${base.timeline} follows its own)`);
    others.push({ backupId: base.entry.id, at: base.finishedAt, timeline: base.timeline, reason: `timeline ${base.timeline}, not on the way to timeline ${timelines.at(-1)} (--timeline ${base.timeline})` });
  }
  if (onPath.length === 0) return empty(`no VERIFIED base backup on the way to timeline ${timelines.at(-1)}: take one (strongbox backup --type base)`, timelines);

  let archivedRanges: WalRange[];
  try {
    archivedRanges = wal.ranges ? [...wal.ranges] : rangesOfSegments(wal.segments ?? [], wal.segmentSize);
  } catch {
    warnings.push(`an archived WAL name does not fit the segment size ${wal.segmentSize}: gaps not computed`);
    archivedRanges = [];
  }
  const covered = pathCoverage(wal.path, archivedRanges, wal.segmentSize);
  // A small view lists its segments: every one has its time; ranges have their ends' and `endTimes`.
  const listed = new Map((wal.ranges ? [] : (wal.segments ?? [])).map((segment) => [segment.name, segment.archivedAt]));
  const timeOf = (end: RangeEnd | undefined) => end?.archivedAt ?? (end ? (wal.endTimes?.[end.name] ?? listed.get(end.name)) : undefined);
  const newestSegno = covered.at(-1)?.to;
  const oldest = onPath.reduce((min, base) => (base.startLsn < min.startLsn ? base : min));
  const firstSegno = segnoOfLsn(oldest.startLsn, wal.segmentSize);
  const nameAt = (segno: bigint) => segmentName(timelineForSegment(wal.path, segno, wal.segmentSize), segno, wal.segmentSize);

  const ranges: PitrRange[] = [];
  for (const base of onPath) {
    const segno = segnoOfLsn(base.startLsn, wal.segmentSize);
    const run = coveredAt(covered, segno);
    const lastSegment = run?.last.name;
    // Where replay from this base backup must stop: the end of its last contiguous segment.
    const reachedLsn = segmentStartLsn(run ? run.to + 1n : segno, wal.segmentSize);
    const consistent = reachedLsn >= base.stopLsn;
    if (!consistent && !base.walIncluded) {
      warnings.push(`base backup ${base.entry.id} needs ${nameAt(run ? run.to + 1n : segno)}, which is not archived, to become consistent (stop LSN ${formatLsn(base.stopLsn)})`);
      continue;
    }
    const reachedAt = consistent && run ? timeOf(run.last) : undefined;
    const to = reachedAt ? later(reachedAt, base.finishedAt) : base.finishedAt;
    ranges.push({ from: base.finishedAt, to, baseBackupIds: [base.entry.id], ...(consistent && lastSegment ? { lastSegment } : {}) });
  }

  const holes = newestSegno === undefined || newestSegno < firstSegno ? [] : coverageGaps(wal.path, covered, firstSegno, newestSegno, wal.segmentSize);
  const gaps: WalGap[] = holes.map((hole) => {
    const [gap] = namedGaps([hole], wal.segmentSize);
    const left = coveredAt(covered, hole.from - 1n);
    const right = coveredAt(covered, hole.to + 1n);
    const after = left && left.to === hole.from - 1n ? timeOf(left.last) : undefined;
    const before = right && right.from === hole.to + 1n ? timeOf(right.first) : undefined;
    return { ...gap!, ...(after ? { after } : {}), ...(before ? { before } : {}) };
  });
  let archivedSegments = 0;
  for (const run of covered) if (run.to >= firstSegno) archivedSegments += Number(run.to - (run.from > firstSegno ? run.from : firstSegno) + 1n);
  const firstRun = covered.find((run) => run.to >= firstSegno);
  const firstEnd: RangeEnd | undefined = firstRun ? (firstRun.from >= firstSegno ? firstRun.first : { name: nameAt(firstSegno) }) : undefined;
  const firstAt = timeOf(firstEnd);
  const lastRun = covered.at(-1);
  const lastAt = lastRun && lastRun.to >= firstSegno ? timeOf(lastRun.last) : undefined;
  const first = firstEnd && firstAt ? { name: firstEnd.name, archivedAt: firstAt } : undefined;
  const last = lastAt ? { name: lastRun!.last.name, archivedAt: lastAt } : undefined;
  const merged = mergeRanges(ranges);
  return {
    available: merged.length > 0,
    ...(merged.length ? { from: merged[0]!.from, to: merged.at(-1)!.to } : {}),
    ranges: merged,
    baseBackups: onPath.map((base) => ({
      backupId: base.entry.id,
      kind: 'base' as const,
      tier: base.entry.tier,
      scope: base.entry.scope,
      at: base.finishedAt,
      startLsn: formatLsn(base.startLsn),
      stopLsn: formatLsn(base.stopLsn),
      timeline: base.timeline,
    })),
    otherBaseBackups: others,
    gaps,
    timelines,
    archivedSegments,
    ...(first ? { firstArchived: first } : {}),
    ...(last ? { lastArchived: last } : {}),
    ...(merged.length ? {} : { reason: 'no base backup reaches consistency with the archived WAL' }),
  };
}
