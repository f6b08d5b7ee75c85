import type { GapRange } from './continuity';
import type { TimelineSegment } from './history';
import { DEFAULT_SEGMENT_SIZE, parseWalName, segmentName, segnoOfLsn } from './names';

/**
 * Continuity kept as ranges: the catalog holds, per database and timeline, runs of
 * consecutive archived segments (`WalRange`), so "is the archive continuous from A to B?"
 * reads a number of items that depends on the gaps and timelines, never on the segments.
 * This module is the pure part: joining runs, laying them along a recovery's timeline
 * path, and the gaps between them. Pure.
 */

/** Where a run of archived segments begins or ends, and when that segment was archived (when known). */
export interface RangeEnd {
  name: string;
  archivedAt?: string;
}

/** A run of consecutive archived segments on one timeline: segment numbers `from`..`to`, inclusive. */
export interface WalRange {
  timeline: number;
  from: bigint;
  to: bigint;
  first: RangeEnd;
  last: RangeEnd;
  /** The segment size the catalog recorded the range with, when it says. */
  segmentSize?: number;
  /** The catalog cut this range off another (deleting segments before it): only a later cut removes it. */
  split?: boolean;
}

/** A stretch of segment numbers a recovery along a path reads without a gap (its ends may lie on different timelines). */
export type Covered = Omit<WalRange, 'timeline' | 'segmentSize' | 'split'>;

/** Segments missing along a path, on one timeline: segment numbers `from`..`to`, inclusive. */
export interface SegnoGap {
  timeline: number;
  from: bigint;
  to: bigint;
}

const compare = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Joins runs that overlap or touch, per timeline (ranges the catalog holds may overlap
 * while concurrent indexing settles them: each only says its own segments are archived).
 * Sorted by timeline, then segment number.
 */
export function normalizeRanges(ranges: readonly WalRange[]): WalRange[] {
  const sorted = [...ranges].sort((a, b) => a.timeline - b.timeline || compare(a.from, b.from) || compare(b.to, a.to));
  const merged: WalRange[] = [];
  for (const range of sorted) {
    const open = merged.at(-1);
    if (open && open.timeline === range.timeline && range.from <= open.to + 1n) {
      if (range.to > open.to) {
        open.to = range.to;
        open.last = { ...range.last };
      }
    } else {
      const { split: _split, ...rest } = range;
      merged.push({ ...rest, first: { ...range.first }, last: { ...range.last } });
    }
  }
  return merged;
}

/**
 * The runs of a list of archived segments (any order; other WAL files are ignored): for
 * small views and tests, and for folding a listing page by page. Throws BAD_WAL_NAME for
 * a name that does not fit `segmentSize`.
 */
export function rangesOfSegments(segments: Iterable<{ name: string; archivedAt?: string }>, segmentSize = DEFAULT_SEGMENT_SIZE): WalRange[] {
  const runs: WalRange[] = [];
  for (const segment of segments) {
    if (!/^[0-9A-F]{24}$/.test(segment.name)) continue;
    const parsed = parseWalName(segment.name, segmentSize);
    const end: RangeEnd = { name: segment.name, ...(segment.archivedAt !== undefined ? { archivedAt: segment.archivedAt } : {}) };
    runs.push({ timeline: parsed.timeline, from: parsed.segno!, to: parsed.segno!, first: end, last: end });
  }
  return normalizeRanges(runs);
}

/**
 * The segment numbers each stretch of `path` serves: recovery reads segment `segno` from
 * the newest stretch whose beginning lies in or before it (see `timelineForSegment`), so a
 * stretch ends where the next one's first segment begins. A stretch can serve nothing
 * (two switches in one segment). `to` is undefined for the last stretch.
 */
export function stretchSegnos(path: readonly TimelineSegment[], segmentSize = DEFAULT_SEGMENT_SIZE): Array<{ timeline: number; from: bigint; to?: bigint }> {
  return path.map((stretch, index) => {
    const from = index === 0 ? 0n : segnoOfLsn(stretch.beginLsn, segmentSize);
    const next = path[index + 1];
    return { timeline: stretch.timeline, from, ...(next ? { to: segnoOfLsn(next.beginLsn, segmentSize) - 1n } : {}) };
  });
}

/**
 * What a recovery along `path` can read without a gap: the archived runs of the path's
 * timelines, each cut to the segment numbers its stretch serves, joined where they touch
 * (across a timeline switch too), ascending. An end cut inside a run has no `archivedAt`
 * (the catalog keeps the time of a run's own ends only).
 */
export function pathCoverage(path: readonly TimelineSegment[], ranges: readonly WalRange[], segmentSize = DEFAULT_SEGMENT_SIZE): Covered[] {
  const pieces: Covered[] = [];
  const stretches = stretchSegnos(path, segmentSize);
  for (const range of normalizeRanges(ranges)) {
    for (const stretch of stretches) {
      if (stretch.timeline !== range.timeline) continue;
      const from = range.from > stretch.from ? range.from : stretch.from;
      const to = stretch.to !== undefined && stretch.to < range.to ? stretch.to : range.to;
      if (to < from) continue;
      pieces.push({
        from,
        to,
        first: from === range.from ? { ...range.first } : { name: segmentName(range.timeline, from, segmentSize) },
        last: to === range.to ? { ...range.last } : { name: segmentName(range.timeline, to, segmentSize) },
      });
    }
  }
  pieces.sort((a, b) => compare(a.from, b.from));
  const joined: Covered[] = [];
  for (const piece of pieces) {
    const open = joined.at(-1);
    if (open && piece.from <= open.to + 1n) {
      if (piece.to > open.to) {
        open.to = piece.to;
        open.last = piece.last;
      }
    } else {
      joined.push(piece);
    }
  }
  return joined;
}

/** The stretch of `covered` (ascending, disjoint) holding segment `segno`, or undefined. Binary search. */
export function coveredAt(covered: readonly Covered[], segno: bigint): Covered | undefined {
  let low = 0;
  let high = covered.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const candidate = covered[middle]!;
    if (segno < candidate.from) high = middle - 1;
    else if (segno > candidate.to) low = middle + 1;
    else return candidate;
  }
  return undefined;
}

/**
 * The segments `from`..`to` along `path` that `covered` lacks, as runs on one timeline
 * each (a run crossing a switch is cut there: its names are on two timelines), ascending.
 */
export function coverageGaps(path: readonly TimelineSegment[], covered: readonly Covered[], from: bigint, to: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): SegnoGap[] {
  const holes: Array<{ from: bigint; to: bigint }> = [];
  let next = from;
  for (const stretch of covered) {
    if (stretch.to < next) continue;
    if (stretch.from > to) break;
    if (stretch.from > next) holes.push({ from: next, to: stretch.from - 1n });
    next = stretch.to + 1n;
    if (next > to) break;
  }
  if (next <= to) holes.push({ from: next, to });
  const stretches = stretchSegnos(path, segmentSize);
  const gaps: SegnoGap[] = [];
  for (const hole of holes) {
    for (const stretch of stretches) {
      const low = hole.from > stretch.from ? hole.from : stretch.from;
      const high = stretch.to !== undefined && stretch.to < hole.to ? stretch.to : hole.to;
      if (low <= high) gaps.push({ timeline: stretch.timeline, from: low, to: high });
    }
  }
  return gaps;
}

/** Gaps as the names people read (`GapRange`): first and last missing segment and how many. */
export function namedGaps(gaps: readonly SegnoGap[], segmentSize = DEFAULT_SEGMENT_SIZE): GapRange[] {
  return gaps.map((gap) => ({ first: segmentName(gap.timeline, gap.from, segmentSize), last: segmentName(gap.timeline, gap.to, segmentSize), count: Number(gap.to - gap.from + 1n) }));
}

/** How many segments `gaps` hold in all. */
export function gapSegmentCount(gaps: readonly { count: number }[]): number {
  return gaps.reduce((sum, gap) => sum + gap.count, 0);
}
