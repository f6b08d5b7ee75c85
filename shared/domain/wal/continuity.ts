import { InputError } from '../../errors';
import type { TimelineSegment } from './history';
import { assertSegmentSize, DEFAULT_SEGMENT_SIZE, formatLsn, parseWalName, segmentName, segmentStartLsn, segnoOfLsn, type Lsn } from './names';

/**
 * Which WAL segments a recovery needs, and which of them the archive lacks. Pure.
 *
 * Recovery reads segment `segno` from the newest timeline of its path that had begun by
 * that segment (PostgreSQL's XLogFileReadAnyTLI): before a switch point the old
 * timeline's file, from the segment holding the switch point onward the new one's.
 * The old timeline's last segment, archived as `.partial`, is never read.
 */

/** What a recovery replays: from `startLsn` up to and including the segment holding `endLsn`. */
export interface SegmentRange {
  /** Timelines leading to the recovery's target (see `timelinePath`). */
  path: readonly TimelineSegment[];
  startLsn: Lsn;
  endLsn: Lsn;
  segmentSize?: number;
}

/** A run of consecutive missing segments on one timeline. */
export interface GapRange {
  first: string;
  last: string;
  count: number;
}

/** How far the archive reaches without a gap, from a start (see `lastContiguous`). */
export interface Reach {
  /** The newest segment reachable from the start; undefined when the first one is missing. */
  lastSegment?: string;
  /** Where replay must stop: the end of `lastSegment` (exclusive), or the start's segment start. */
  reachedLsn: Lsn;
  /** How many segments, from the start's, are there without a gap. */
  segments: number;
  /** The first segment recovery would need and the archive lacks. */
  firstMissing: string;
}

/**
 * The timeline recovery reads segment `segno` from: the newest stretch of `path` whose
 * beginning lies in or before that segment. Throws InputError for an empty path.
 */
export function timelineForSegment(path: readonly TimelineSegment[], segno: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): number {
  if (path.length === 0) throw new InputError('the timeline path is empty', 'build it with timelinePath(target, history of target)');
  for (let index = path.length - 1; index > 0; index -= 1) {
    if (segnoOfLsn(path[index]!.beginLsn, segmentSize) <= segno) return path[index]!.timeline;
  }
  return path[0]!.timeline;
}

/**
 * The segment names recovery needs, in replay order, from the segment holding `startLsn`
 * to the one holding `endLsn`, each on the timeline recovery reads it from. Throws
 * InputError when `endLsn` is before `startLsn`, the path is empty or the segment size
 * is not one PostgreSQL allows.
 */
export function requiredSegments(range: SegmentRange): string[] {
  const segmentSize = range.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  assertSegmentSize(segmentSize);
  if (range.endLsn < range.startLsn) {
    throw new InputError(`the WAL range ends at ${formatLsn(range.endLsn)}, before its start ${formatLsn(range.startLsn)}`, 'give the start (e.g. a base backup start LSN) first and the end (the target) second');
  }
  const names: string[] = [];
  const last = segnoOfLsn(range.endLsn, segmentSize);
  for (let segno = segnoOfLsn(range.startLsn, segmentSize); segno <= last; segno += 1n) {
    names.push(segmentName(timelineForSegment(range.path, segno, segmentSize), segno, segmentSize));
  }
  return names;
}

/** The names of `required` missing from `archived`, in the order of `required`. */
export function findGaps(required: readonly string[], archived: ReadonlySet<string>): string[] {
  return required.filter((name) => !archived.has(name));
}

/**
 * Groups missing segment names (in replay order) into runs of consecutive segments on one
 * timeline. Throws StrongboxError BAD_WAL_NAME for a name that is not a segment's.
 */
export function gapRanges(missing: readonly string[], segmentSize = DEFAULT_SEGMENT_SIZE): GapRange[] {
  const ranges: GapRange[] = [];
  let previous: { timeline: number; segno: bigint } | undefined;
  for (const name of missing) {
    const parsed = parseWalName(name, segmentSize);
    const current = { timeline: parsed.timeline, segno: parsed.segno! };
    const open = ranges.at(-1);
    if (open && previous && previous.timeline === current.timeline && previous.segno + 1n === current.segno) {
      open.last = name;
      open.count += 1;
    } else {
      ranges.push({ first: name, last: name, count: 1 });
    }
    previous = current;
  }
  return ranges;
}

/**
 * Missing segments as people read them: `A..B (5 segments), C (1 segment)`; after
 * `maxRanges` runs, the rest are counted. Empty string when nothing is missing.
 * Throws as `gapRanges`.
 */
export function describeGaps(missing: readonly string[], options: { segmentSize?: number; maxRanges?: number } = {}): string {
  return describeGapRanges(gapRanges(missing, options.segmentSize), options);
}

/**
 * Runs of missing segments as people read them (see `describeGaps`): the first
 * `maxRanges` runs, then the rest counted. Empty string when there is none.
 */
export function describeGapRanges(ranges: readonly GapRange[], options: { maxRanges?: number } = {}): string {
  const max = options.maxRanges ?? 5;
  const shown = ranges.slice(0, max).map((range) => {
    const span = range.count === 1 ? range.first : `${range.first}..${range.last}`;
    return `${span} (${range.count} segment${range.count === 1 ? '' : 's'})`;
  });
  const hidden = ranges.slice(max);
  if (hidden.length > 0) {
    const count = hidden.reduce((sum, range) => sum + range.count, 0);
    shown.push(`and ${hidden.length} more range${hidden.length === 1 ? '' : 's'} (${count} segment${count === 1 ? '' : 's'})`);
  }
  return shown.join(', ');
}

/**
 * Walks the archive forward from the segment holding `startLsn` along `path` and stops at
 * the first segment recovery would need that `archived` lacks: the newest point a
 * recovery from `startLsn` can reach (`--latest`), and the proof that nothing is missing
 * since a base backup. Visits at most `archived.size + 1` segments. Throws InputError for
 * an empty path or a bad segment size.
 */
export function lastContiguous(options: { path: readonly TimelineSegment[]; startLsn: Lsn; archived: ReadonlySet<string>; segmentSize?: number }): Reach {
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  assertSegmentSize(segmentSize);
  const first = segnoOfLsn(options.startLsn, segmentSize);
  let segno = first;
  let lastSegment: string | undefined;
  for (;;) {
    const name = segmentName(timelineForSegment(options.path, segno, segmentSize), segno, segmentSize);
    if (!options.archived.has(name)) {
      return {
        ...(lastSegment !== undefined ? { lastSegment } : {}),
        reachedLsn: segmentStartLsn(segno, segmentSize),
        segments: Number(segno - first),
        firstMissing: name,
      };
    }
    lastSegment = name;
    segno += 1n;
  }
}
