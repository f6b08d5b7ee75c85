/**
 * Continuity kept as ranges (issue 16, point 1), the pure part: joining runs, laying them
 * along a timeline path, and the gaps between them — checked against the segment-by-segment
 * answer (`requiredSegments` / `findGaps`) on random archives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findGaps, gapRanges, requiredSegments } from '../../shared/domain/wal/continuity';
import { parseHistory, timelinePath } from '../../shared/domain/wal/history';
import { segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { coverageGaps, coveredAt, namedGaps, normalizeRanges, pathCoverage, rangesOfSegments, type WalRange } from '../../shared/domain/wal/ranges';

const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 0, minute)).toISOString();

function range(timeline: number, from: number, to: number): WalRange {
  return { timeline, from: BigInt(from), to: BigInt(to), first: { name: segmentName(timeline, BigInt(from)), archivedAt: at(from) }, last: { name: segmentName(timeline, BigInt(to)), archivedAt: at(to) } };
}

const spans = (ranges: readonly { from: bigint; to: bigint }[]) => ranges.map((r) => [Number(r.from), Number(r.to)]);

describe('normalizeRanges', () => {
  it.each([
    { name: 'touching runs join', input: [range(1, 5, 9), range(1, 1, 4)], out: [[1, 9]] },
    { name: 'overlapping and nested runs join', input: [range(1, 1, 10), range(1, 3, 4), range(1, 8, 12)], out: [[1, 12]] },
    { name: 'a gap keeps two runs', input: [range(1, 1, 4), range(1, 6, 9)], out: [[1, 4], [6, 9]] },
    { name: 'timelines never join', input: [range(2, 5, 9), range(1, 1, 4)], out: [[1, 4], [5, 9]] },
  ])('$name', ({ input, out }) => {
    expect(spans(normalizeRanges(input))).toEqual(out);
  });

  it('keeps the times of the joined run’s own ends', () => {
    const [joined] = normalizeRanges([range(1, 5, 9), range(1, 1, 6)]);
    expect(joined).toMatchObject({ first: { archivedAt: at(1) }, last: { name: segmentName(1, 9n), archivedAt: at(9) } });
  });
});

describe('pathCoverage and coverageGaps', () => {
  // Timeline 2 begins in the middle of segment 8: segments 0..7 are read from timeline 1, 8.. from 2.
  const path = timelinePath(2, parseHistory('1\t0/8000100\tpromoted\n', 2));

  it('joins across a switch, cuts each timeline to the segments its stretch serves, and has no time at a cut end', () => {
    const covered = pathCoverage(path, [range(1, 2, 12), range(2, 8, 15)]);
    expect(spans(covered)).toEqual([[2, 15]]);
    expect(covered[0]!.first.name).toBe(segmentName(1, 2n));
    expect(covered[0]!.last.name).toBe(segmentName(2, 15n));

    const cut = pathCoverage(path, [range(1, 2, 12), range(2, 10, 15)]);
    expect(spans(cut)).toEqual([[2, 7], [10, 15]]);
    expect(cut[0]!.last).toEqual({ name: segmentName(1, 7n) });
    expect(namedGaps(coverageGaps(path, cut, 2n, 15n))).toEqual([{ first: segmentName(2, 8n), last: segmentName(2, 9n), count: 2 }]);
  });

  it('cuts a gap across a switch in two, one per timeline, as gapRanges names them', () => {
    const covered = pathCoverage(path, [range(1, 2, 5), range(2, 10, 15)]);
    expect(namedGaps(coverageGaps(path, covered, 0n, 17n))).toEqual([
      { first: segmentName(1, 0n), last: segmentName(1, 1n), count: 2 },
      { first: segmentName(1, 6n), last: segmentName(1, 7n), count: 2 },
      { first: segmentName(2, 8n), last: segmentName(2, 9n), count: 2 },
      { first: segmentName(2, 16n), last: segmentName(2, 17n), count: 2 },
    ]);
    expect(coveredAt(covered, 12n)).toMatchObject({ from: 10n, to: 15n });
    expect(coveredAt(covered, 7n)).toBeUndefined();
  });

  it('finds the same gaps as the segment-by-segment walk, on random archives along two switches', () => {
    const MB16 = 16n * 1024n * 1024n;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 60 })), { maxLength: 150 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        (first, second, archivedPairs, a, b) => {
          const switch1 = BigInt(first) * MB16 + 0x80n;
          const switch2 = switch1 + BigInt(second) * MB16;
          const twoSwitches = timelinePath(3, [
            { parentTimeline: 1, switchLsn: switch1, reason: '' },
            { parentTimeline: 2, switchLsn: switch2, reason: '' },
          ]);
          const names = new Set(archivedPairs.map(([timeline, segno]) => segmentName(timeline, BigInt(segno))));
          const [low, high] = a <= b ? [a, b] : [b, a];
          const required = requiredSegments({ path: twoSwitches, startLsn: segmentStartLsn(BigInt(low)), endLsn: segmentStartLsn(BigInt(high) + 1n) - 1n });
          const expected = gapRanges(findGaps(required, names));

          const covered = pathCoverage(twoSwitches, rangesOfSegments([...names].map((name) => ({ name }))));
          expect(namedGaps(coverageGaps(twoSwitches, covered, BigInt(low), BigInt(high)))).toEqual(expected);
        },
      ),
    );
  });
});
