import type { BackupEntry } from '../backup';
import { findGaps, gapRanges, requiredSegments, timelineForSegment } from '../wal/continuity';
import { isOnPath } from '../wal/history';
import { formatLsn, parseLsn, parseWalName, segmentName, segmentStartLsn, segnoOfLsn, type Lsn } from '../wal/names';
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

const SEGMENT_NAME = /^[0-9A-F]{24}$/;

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

  const archivedAt = new Map<string, string>();
  // Names order by segment number after the timeline's 8 digits: parse only the newest.
  let newestName: string | undefined;
  for (const segment of wal.segments) {
    if (!SEGMENT_NAME.test(segment.name)) continue;
    archivedAt.set(segment.name, segment.archivedAt);
    if (newestName === undefined || segment.name.slice(8) > newestName.slice(8)) newestName = segment.name;
  }
  let newestSegno: bigint | undefined;
  try {
    newestSegno = newestName === undefined ? undefined : parseWalName(newestName, wal.segmentSize).segno;
  } catch {
    warnings.push(`the newest archived WAL name ${newestName} does not fit the segment size ${wal.segmentSize}: gaps not computed`);
  }
  const archived = new Set(archivedAt.keys());

  // Every segment from the oldest base backup's start to the newest archived one, in replay
  // order, and for each the last index of the run of archived segments it starts: one pass,
  // however many base backups.
  const oldest = onPath.reduce((min, base) => (base.startLsn < min.startLsn ? base : min));
  const firstSegno = segnoOfLsn(oldest.startLsn, wal.segmentSize);
  // The last byte of the newest segment, not its first: the base backup may start inside it.
  const required = newestSegno === undefined || newestSegno < firstSegno ? [] : requiredSegments({ path: wal.path, startLsn: oldest.startLsn, endLsn: segmentStartLsn(newestSegno + 1n, wal.segmentSize) - 1n, segmentSize: wal.segmentSize });
  const runEnd = new Array<number>(required.length);
  for (let index = required.length - 1; index >= 0; index -= 1) {
    runEnd[index] = !archived.has(required[index]!) ? -1 : index + 1 < required.length && runEnd[index + 1]! >= 0 ? runEnd[index + 1]! : index;
  }
  const nameAt = (segno: bigint) => segmentName(timelineForSegment(wal.path, segno, wal.segmentSize), segno, wal.segmentSize);

  const ranges: PitrRange[] = [];
  for (const base of onPath) {
    const segno = segnoOfLsn(base.startLsn, wal.segmentSize);
    const index = Number(segno - firstSegno);
    const end = index < required.length ? runEnd[index]! : -1;
    const lastSegment = end >= 0 ? required[end] : undefined;
    // Where replay from this base backup must stop: the end of its last contiguous segment.
    const reachedLsn = segmentStartLsn(segno + BigInt(end >= 0 ? end - index + 1 : 0), wal.segmentSize);
    const consistent = reachedLsn >= base.stopLsn;
    if (!consistent && !base.walIncluded) {
      warnings.push(`base backup ${base.entry.id} needs ${nameAt(segno + BigInt(end >= 0 ? end - index + 1 : 0))}, which is not archived, to become consistent (stop LSN ${formatLsn(base.stopLsn)})`);
      continue;
    }
    const reachedAt = consistent && lastSegment ? archivedAt.get(lastSegment) : undefined;
    const to = reachedAt ? later(reachedAt, base.finishedAt) : base.finishedAt;
    ranges.push({ from: base.finishedAt, to, baseBackupIds: [base.entry.id], ...(consistent && lastSegment ? { lastSegment } : {}) });
  }

  const missing = findGaps(required, archived);
  const position = new Map(required.map((name, index) => [name, index]));
  const gaps: WalGap[] = gapRanges(missing, wal.segmentSize).map((gap) => {
    const after = archivedAt.get(required[position.get(gap.first)! - 1] ?? '');
    const before = archivedAt.get(required[position.get(gap.last)! + 1] ?? '');
    return { ...gap, ...(after ? { after } : {}), ...(before ? { before } : {}) };
  });
  const present = required.filter((name) => archived.has(name));
  const first = present[0];
  const last = present.at(-1);
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
    archivedSegments: present.length,
    ...(first ? { firstArchived: { name: first, archivedAt: archivedAt.get(first)! } } : {}),
    ...(last ? { lastArchived: { name: last, archivedAt: archivedAt.get(last)! } } : {}),
    ...(merged.length ? {} : { reason: 'no base backup reaches consistency with the archived WAL' }),
  };
}
