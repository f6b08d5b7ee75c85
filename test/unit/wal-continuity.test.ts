import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeGaps, findGaps, gapRanges, lastContiguous, requiredSegments } from '../../shared/domain/wal/continuity';
import { parseHistory, timelineAt, timelinePath, type HistoryEntry } from '../../shared/domain/wal/history';
import { parseLsn, parseWalName, segmentName, segmentStartLsn, type Lsn } from '../../shared/domain/wal/names';
import { InputError } from '../../shared/errors';

const MiB = 1024 * 1024;

/** Two switches: 1 → 2 exactly at the start of segment 3, 2 → 3 in the middle of segment 5. */
const TWO_SWITCHES = timelinePath(3, parseHistory('1\t0/3000000\tno recovery target specified\n2\t0/50000A8\tat restore point "p"\n', 3));
const TL1 = timelinePath(1, []);

function names(timeline: number, from: number, to: number, segmentSize = 16 * MiB): string[] {
  const out: string[] = [];
  for (let segno = from; segno <= to; segno += 1) out.push(segmentName(timeline, BigInt(segno), segmentSize));
  return out;
}

describe('requiredSegments', () => {
  it('follows two switches: the old timeline before each switch, the new one from the segment holding it', () => {
    // Act
    const required = requiredSegments({ path: TWO_SWITCHES, startLsn: parseLsn('0/1000028'), endLsn: parseLsn('0/7000000') });
    // Assess
    expect(required).toStrictEqual([
      '000000010000000000000001',
      '000000010000000000000002',
      '000000020000000000000003',
      '000000020000000000000004',
      // Timeline 2's own segment 5 ends as 000000020000000000000005.partial: recovery never reads it.
      '000000030000000000000005',
      '000000030000000000000006',
      '000000030000000000000007',
    ]);
  });

  it('reads the segment holding a mid-segment switch from the new timeline', () => {
    // Prepare
    const path = timelinePath(2, parseHistory('1\t0/3000100\tx\n', 2));
    // Act
    const required = requiredSegments({ path, startLsn: parseLsn('0/2000000'), endLsn: parseLsn('0/4000000') });
    // Assess
    expect(required).toStrictEqual(['000000010000000000000002', '000000020000000000000003', '000000020000000000000004']);
  });

  it('never reads a timeline that began and ended inside one segment', () => {
    // Prepare
    const path = timelinePath(3, parseHistory('1\t0/4000100\tx\n2\t0/4000F00\ty\n', 3));
    // Act
    const required = requiredSegments({ path, startLsn: parseLsn('0/3FFFFFF'), endLsn: parseLsn('0/5000000') });
    // Assess
    expect(required).toStrictEqual(['000000010000000000000003', '000000030000000000000004', '000000030000000000000005']);
  });

  it('starts on a later timeline when the start is past the switch (a base backup taken on timeline 2)', () => {
    const required = requiredSegments({ path: TWO_SWITCHES, startLsn: parseLsn('0/4000060'), endLsn: parseLsn('0/5FFFFFF') });
    expect(required).toStrictEqual(['000000020000000000000004', '000000030000000000000005']);
  });

  it('includes the segment holding the end, even when the end is its first byte', () => {
    expect(requiredSegments({ path: TL1, startLsn: parseLsn('0/2000000'), endLsn: parseLsn('0/4000000') })).toStrictEqual(names(1, 2, 4));
    expect(requiredSegments({ path: TL1, startLsn: parseLsn('0/2000010'), endLsn: parseLsn('0/2000010') })).toStrictEqual(['000000010000000000000002']);
  });

  it.each([
    [1 * MiB, '0/FFF00000', '1/100000', ['000000010000000000000FFF', '000000010000000100000000', '000000010000000100000001']],
    [16 * MiB, '0/FF000000', '1/0', ['0000000100000000000000FF', '000000010000000100000000']],
    [64 * MiB, '2/F8000000', '3/4000000', ['00000001000000020000003E', '00000001000000020000003F', '000000010000000300000000', '000000010000000300000001']],
    [1024 * MiB, '0/C0000000', '1/40000000', ['000000010000000000000003', '000000010000000100000000', '000000010000000100000001']],
  ])('names segments of %i bytes across a 4 GiB boundary', (segmentSize, start, end, expected) => {
    expect(requiredSegments({ path: TL1, startLsn: parseLsn(start), endLsn: parseLsn(end), segmentSize })).toStrictEqual(expected);
  });

  it('refuses an end before the start, an empty path and a bad segment size', () => {
    expect(() => requiredSegments({ path: TL1, startLsn: parseLsn('0/3000000'), endLsn: parseLsn('0/2FFFFFF') })).toThrow(InputError);
    expect(() => requiredSegments({ path: [], startLsn: 0n, endLsn: 1n })).toThrow(/timeline path is empty/);
    expect(() => requiredSegments({ path: TL1, startLsn: 0n, endLsn: 1n, segmentSize: 3 * MiB })).toThrow(/segment size/);
  });
});

describe('findGaps and describeGaps', () => {
  const required = names(1, 1, 12);

  it.each([
    ['nothing missing', required, [], ''],
    ['a gap at the start', required.slice(2), names(1, 1, 2), '000000010000000000000001..000000010000000000000002 (2 segments)'],
    ['a gap in the middle', [...required.slice(0, 2), ...required.slice(7)], names(1, 3, 7), '000000010000000000000003..000000010000000000000007 (5 segments)'],
    ['a gap at the end', required.slice(0, 11), names(1, 12, 12), '00000001000000000000000C (1 segment)'],
    ['several gaps', required.filter((_, i) => i % 4 !== 1), ['000000010000000000000002', '000000010000000000000006', '00000001000000000000000A'], '000000010000000000000002 (1 segment), 000000010000000000000006 (1 segment), 00000001000000000000000A (1 segment)'],
  ])('finds %s', (_label, archived, missing, text) => {
    // Act
    const gaps = findGaps(required, new Set(archived));
    // Assess
    expect(gaps).toStrictEqual(missing);
    expect(describeGaps(gaps)).toBe(text);
  });

  it('ignores archived files recovery does not need (another timeline, partials)', () => {
    const archived = new Set([...required, '000000010000000000000005.partial', '000000020000000000000005']);
    expect(findGaps(['000000020000000000000006', ...required], archived)).toStrictEqual(['000000020000000000000006']);
  });

  it('splits a run where the timeline changes, even between consecutive segment numbers', () => {
    // Act
    const ranges = gapRanges(['000000010000000000000003', '000000010000000000000004', '000000020000000000000005', '000000020000000000000006']);
    // Assess
    expect(ranges).toStrictEqual([
      { first: '000000010000000000000003', last: '000000010000000000000004', count: 2 },
      { first: '000000020000000000000005', last: '000000020000000000000006', count: 2 },
    ]);
  });

  it('joins consecutive segments across a 4 GiB boundary, with the segment size given', () => {
    expect(gapRanges(['000000010000000000000FFF', '000000010000000100000000'], 1 * MiB)).toStrictEqual([{ first: '000000010000000000000FFF', last: '000000010000000100000000', count: 2 }]);
    expect(() => gapRanges(['000000010000000000000FFF'])).toThrow(/not a WAL file name/);
  });

  it('counts the ranges past the limit instead of listing them', () => {
    // Prepare: every other segment of 40 is missing: 20 ranges of one.
    const missing = names(1, 0, 39).filter((_, i) => i % 2 === 0);
    // Act
    const text = describeGaps(missing, { maxRanges: 3 });
    // Assess
    expect(text).toBe('000000010000000000000000 (1 segment), 000000010000000000000002 (1 segment), 000000010000000000000004 (1 segment), and 17 more ranges (17 segments)');
  });
});

describe('lastContiguous', () => {
  const archived = new Set([...names(1, 1, 2), '000000010000000000000003.partial', ...names(2, 3, 4), '000000020000000000000005.partial', ...names(3, 5, 9)]);

  it('reaches the newest segment along the path, across both switches', () => {
    // Act
    const reach = lastContiguous({ path: TWO_SWITCHES, startLsn: parseLsn('0/1000028'), archived });
    // Assess
    expect(reach).toStrictEqual({ lastSegment: '000000030000000000000009', reachedLsn: parseLsn('0/A000000'), segments: 9, firstMissing: '00000003000000000000000A' });
  });

  it('stops before a missing segment in the middle', () => {
    // Prepare
    const holed = new Set(archived);
    holed.delete('000000020000000000000004');
    // Act
    const reach = lastContiguous({ path: TWO_SWITCHES, startLsn: parseLsn('0/1000028'), archived: holed });
    // Assess
    expect(reach).toStrictEqual({ lastSegment: '000000020000000000000003', reachedLsn: parseLsn('0/4000000'), segments: 3, firstMissing: '000000020000000000000004' });
  });

  it('does not take the old timeline\'s copy of the switch segment for the new one', () => {
    // Prepare: timeline 3's segment 5 is missing; timeline 2's (as .partial, and even whole) is there.
    const holed = new Set([...archived, '000000020000000000000005']);
    holed.delete('000000030000000000000005');
    // Act
    const reach = lastContiguous({ path: TWO_SWITCHES, startLsn: parseLsn('0/3000000'), archived: holed });
    // Assess
    expect(reach.lastSegment).toBe('000000020000000000000004');
    expect(reach.firstMissing).toBe('000000030000000000000005');
  });

  it('reaches nothing when the start segment itself is missing', () => {
    // Act
    const reach = lastContiguous({ path: TL1, startLsn: parseLsn('0/8000060'), archived: new Set(names(1, 1, 7)) });
    // Assess
    expect(reach).toStrictEqual({ reachedLsn: parseLsn('0/8000000'), segments: 0, firstMissing: '000000010000000000000008' });
  });

  it('stops where a timeline the path does not follow continues', () => {
    // Prepare: timeline 1 went on past the switch to timeline 2 (both archived).
    const path = timelinePath(2, parseHistory('1\t0/3000000\tx\n', 2));
    const both = new Set([...names(1, 1, 6), ...names(2, 3, 4)]);
    // Act
    const reach = lastContiguous({ path, startLsn: parseLsn('0/1000000'), archived: both });
    // Assess
    expect(reach.lastSegment).toBe('000000020000000000000004');
  });
});

describe('continuity properties', () => {
  const SIZES = [1, 2, 16, 64, 1024].map((n) => n * MiB);

  /** A path of 0–4 switches with increasing timelines and switch points within 200 segments. */
  const scenario = fc
    .record({
      segmentSize: fc.constantFrom(...SIZES),
      steps: fc.array(fc.record({ timelineStep: fc.integer({ min: 1, max: 3 }), lsnStep: fc.bigInt({ min: 0n, max: 40n * 16n * BigInt(MiB) }) }), { maxLength: 4 }),
      start: fc.bigInt({ min: 0n, max: 100n * 16n * BigInt(MiB) }),
      length: fc.bigInt({ min: 0n, max: 150n * 16n * BigInt(MiB) }),
      base: fc.bigInt({ min: 0n, max: 0xffff_0000_0000_0000n }),
    })
    .map(({ segmentSize, steps, start, length, base }) => {
      const entries: HistoryEntry[] = [];
      let timeline = 1;
      let lsn = base;
      for (const step of steps) {
        lsn += step.lsnStep;
        entries.push({ parentTimeline: timeline, switchLsn: lsn, reason: '' });
        timeline += step.timelineStep;
      }
      const cap = (value: Lsn) => (value > 0xffff_ffff_ffff_ffffn ? 0xffff_ffff_ffff_ffffn : value);
      const startLsn = cap(base + start);
      // With 1 MiB segments the longest range is still only ~2400 names.
      return { segmentSize, path: timelinePath(timeline, entries), startLsn, endLsn: cap(startLsn + length) };
    });

  it('requires a contiguous run of segments, each from the timeline holding its last byte', () => {
    fc.assert(
      fc.property(scenario, ({ segmentSize, path, startLsn, endLsn }) => {
        // Act
        const required = requiredSegments({ path, startLsn, endLsn, segmentSize });
        // Assess
        const parsed = required.map((name) => parseWalName(name, segmentSize));
        expect(parsed[0]!.segno).toBe(startLsn / BigInt(segmentSize));
        expect(parsed.at(-1)!.segno).toBe(endLsn / BigInt(segmentSize));
        const first = parsed[0]!.segno!;
        expect(parsed.map((segment) => segment.segno)).toStrictEqual(parsed.map((_, index) => first + BigInt(index)));
        expect(parsed.every((segment, index) => index === 0 || segment.timeline >= parsed[index - 1]!.timeline)).toBe(true);
        // An independent oracle: the timeline that holds the segment's last byte.
        const oracle = parsed.map((segment) => timelineAt(path, segmentStartLsn(segment.segno! + 1n, segmentSize) - 1n));
        expect(parsed.map((segment) => segment.timeline)).toStrictEqual(oracle);
      }),
      { numRuns: 300 },
    );
  });

  it('finds exactly the segments taken out of the archive, and reaches the first of them', () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.nat(), { maxLength: 5 }), ({ segmentSize, path, startLsn, endLsn }, picks) => {
        // Prepare
        const required = requiredSegments({ path, startLsn, endLsn, segmentSize });
        const removed = new Set(picks.map((pick) => required[pick % required.length]!));
        const archived = new Set(required.filter((name) => !removed.has(name)));
        // Act
        const gaps = findGaps(required, archived);
        const reach = lastContiguous({ path, startLsn, archived, segmentSize });
        // Assess
        expect(gaps).toStrictEqual(required.filter((name) => removed.has(name)));
        expect(gapRanges(gaps, segmentSize).reduce((sum, range) => sum + range.count, 0)).toBe(gaps.length);
        const firstGap = gaps[0];
        if (firstGap === undefined) {
          expect(reach.lastSegment).toBe(required.at(-1));
          expect(reach.segments).toBe(required.length);
        } else {
          expect(reach.firstMissing).toBe(firstGap);
          expect(reach.segments).toBe(required.indexOf(firstGap));
          expect(reach.lastSegment).toBe(required[required.indexOf(firstGap) - 1]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
