import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextPartSize, partsInFlight, planParts, S3_PART_LIMITS, schedule, slack } from '../../../shared/domain/part-plan';
import { ObjectTooLargeError } from '../../../shared/errors';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const TIB = 1024 ** 4;
const MAX = 5 * TIB;

/** Every rule S3 puts on the parts of one upload of `bytes` bytes (one assertion: properties walk 10,000 parts). */
function expectS3Accepts(sizes: number[], bytes: number): void {
  const broken = sizes.slice(0, -1).findIndex((size) => size < 5 * MIB || size > 5 * GIB);
  expect({ parts: sizes.length <= 10_000, total: sizes.reduce((sum, size) => sum + size, 0), broken }).toEqual({ parts: true, total: bytes, broken: -1 });
}

describe('planParts', () => {
  it.each([
    // estimate, first part, parts when the object is the estimate
    [0, 8 * MIB, 1],
    [1 * GIB, 8 * MIB, 128],
    [100 * GIB, 32 * MIB, 3200],
    [1 * TIB, 255 * MIB, 4113],
    [5 * TIB, 583 * MIB, 8993],
  ])('plans an estimate of %d bytes with parts of %d bytes (%d parts)', (estimate, first, parts) => {
    const plan = planParts(estimate, 8 * MIB);
    expect(plan.firstPartBytes).toBe(first);
    expect(schedule(plan, estimate).parts).toBe(parts);
  });

  it('refuses an estimate over 5 TiB with OBJECT_TOO_LARGE and a hint, up to 10 TiB', () => {
    for (const estimate of [MAX + 1, 6 * TIB, 10 * TIB]) {
      const error = (() => {
        try {
          planParts(estimate);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ObjectTooLargeError);
      expect(error).toMatchObject({ code: 'OBJECT_TOO_LARGE', hint: expect.stringMatching(/5 TiB/) });
    }
    expect(planParts(MAX).firstPartBytes).toBe(583 * MIB);
  });

  it('refuses estimates that are not byte counts, and limits that could not reach the largest object', () => {
    expect(() => planParts(-1)).toThrow(RangeError);
    expect(() => planParts(Number.NaN)).toThrow(RangeError);
    expect(() => planParts(0, 0, { ...S3_PART_LIMITS, growthLimitBytes: 512 * MIB })).toThrow(RangeError);
  });

  it('keeps the driver minimum as the smallest part', () => {
    expect(planParts(0, 5 * MIB).firstPartBytes).toBe(5 * MIB);
    expect(planParts(0, 0).firstPartBytes).toBe(5 * MIB); // S3's minimum
    expect(planParts(0, 20 * MIB + 1).firstPartBytes).toBe(21 * MIB);
  });
});

describe('nextPartSize', () => {
  it('grows the parts of a stream that outruns its estimate, and refuses to pass 5 TiB', () => {
    const plan = planParts(100 * GIB, 8 * MIB);
    const sizes = schedule(plan, 400 * GIB, true).sizes!;
    expect(sizes[0]).toBe(32 * MIB);
    expect(Math.max(...sizes)).toBeGreaterThan(32 * MIB);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(GIB);
    expectS3Accepts(sizes, 400 * GIB);
    expect(() => schedule(plan, MAX + 1)).toThrow(ObjectTooLargeError);
    expect(() => nextPartSize(plan, 10_001, 0)).toThrow(ObjectTooLargeError);
  });

  it('takes any estimate from 0 to 5 TiB to any actual size up to 5 TiB within S3 limits (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX }), fc.integer({ min: 0, max: MAX }), fc.constantFrom(0, 5 * MIB, 8 * MIB, 64 * MIB), (estimate, actual, minPart) => {
        const plan = planParts(estimate, minPart);
        const sizes = schedule(plan, actual, true).sizes!;
        expectS3Accepts(sizes, actual);
        // Memory: no part beyond the first part or 1 GiB.
        expect(Math.max(...sizes)).toBeLessThanOrEqual(Math.max(plan.firstPartBytes, GIB));
        // Within the estimate and its headroom, one part size throughout: memory known up front.
        if (actual <= plan.targetBytes) expect(new Set(sizes.slice(0, -1)).size).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  it('never runs out of parts on the way to exactly 5 TiB, whatever the estimate (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX }), (estimate) => {
        const plan = planParts(estimate, 8 * MIB);
        let uploaded = 0;
        let part = 1;
        let leastSlack = Infinity;
        while (uploaded < MAX) {
          leastSlack = Math.min(leastSlack, slack(plan.limits, part, uploaded));
          uploaded += Math.min(nextPartSize(plan, part, uploaded), MAX - uploaded);
          part += 1;
        }
        expect(leastSlack).toBeGreaterThanOrEqual(0);
        expect(part - 1).toBeLessThanOrEqual(10_000);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses every estimate over 5 TiB up to 10 TiB (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX + 1, max: 10 * TIB }), (estimate) => {
        expect(() => planParts(estimate)).toThrow(ObjectTooLargeError);
      }),
    );
  });
});

describe('partsInFlight', () => {
  it.each([
    [8 * MIB, GIB, 4, 4],
    [255 * MIB, GIB, 4, 3],
    [583 * MIB, GIB, 4, 1],
    [GIB, GIB, 4, 1],
    [5 * MIB, 12 * MIB, 4, 1],
  ])('parts of %d bytes in a budget of %d bytes, queue %d: %d in flight', (part, budget, queue, expected) => {
    expect(partsInFlight(part, budget, queue)).toBe(expected);
  });
});
