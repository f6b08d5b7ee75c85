/**
 * The protocol that keeps a timeline's ranges while segments are indexed concurrently
 * (shared/adapters/catalog/wal-ranges.ts), on an in-memory store whose every read and
 * conditional write is one step fast-check's scheduler interleaves in any order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addRun, compactRanges, subtractRun, type RangeStore } from '../../shared/adapters/catalog/wal-ranges';
import { segmentName } from '../../shared/domain/wal/names';
import { normalizeRanges, type WalRange } from '../../shared/domain/wal/ranges';

/** A RangeStore in memory; `step` is awaited before each operation takes effect (atomically). */
class MemoryRangeStore implements RangeStore {
  readonly items = new Map<bigint, WalRange>();
  operations = 0;

  constructor(
    private readonly step: () => Promise<void>,
    /** Checked after every write: what the ranges may claim. */
    private readonly recorded: Set<bigint>,
  ) {}

  private async atomically<T>(operation: () => T): Promise<T> {
    await this.step();
    this.operations += 1;
    const result = operation();
    for (const range of this.items.values()) {
      for (let segno = range.from; segno <= range.to; segno += 1n) if (!this.recorded.has(segno)) throw new Error(`range ${range.from}..${range.to} claims ${segno}, which is not recorded`);
    }
    return result;
  }

  floor(segno: bigint) {
    return this.atomically(() => [...this.items.values()].filter((r) => r.from <= segno).sort((a, b) => (a.from < b.from ? 1 : -1))[0]);
  }

  between(low: bigint, high: bigint) {
    return this.atomically(() => [...this.items.values()].filter((r) => r.from >= low && r.from <= high).sort((a, b) => (a.from < b.from ? -1 : 1)));
  }

  create(range: WalRange) {
    return this.atomically(() => !this.items.has(range.from) && Boolean(this.items.set(range.from, { ...range })));
  }

  setEnd(from: bigint, expectedTo: bigint, to: bigint, last: WalRange['last']) {
    return this.atomically(() => {
      const item = this.items.get(from);
      if (!item || item.to !== expectedTo) return false;
      this.items.set(from, { ...item, to, last });
      return true;
    });
  }

  remove(from: bigint, expectedTo: bigint, splitToo = false) {
    return this.atomically(() => {
      const item = this.items.get(from);
      return item?.to === expectedTo && (splitToo || !item.split) && this.items.delete(from);
    });
  }
}

const run = (from: bigint, to = from): WalRange => ({ timeline: 1, from, to, first: { name: segmentName(1, from) }, last: { name: segmentName(1, to) } });
const spans = (ranges: readonly WalRange[]) => ranges.map((r) => [Number(r.from), Number(r.to)]);
/** Maximal runs of a set of segment numbers. */
function runsOf(segnos: Iterable<bigint>): number[][] {
  return spans(normalizeRanges([...segnos].map((segno) => run(segno))));
}

describe('addRun under concurrent indexing', () => {
  it('ends with exactly the runs of what was recorded, one item per run, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.uniqueArray(fc.integer({ min: 0, max: 24 }), { minLength: 1, maxLength: 25 }), async (s, segnos) => {
        const recorded = new Set<bigint>();
        const store = new MemoryRangeStore(() => s.schedule(Promise.resolve()), recorded);
        // Each writer records its segment, then adds it: concurrent writers, as Lambda runs S3 events.
        const writers = segnos.map(async (n) => {
          await s.schedule(Promise.resolve(), `record ${n}`);
          recorded.add(BigInt(n));
          expect(await addRun(store, run(BigInt(n)))).toBe(true);
        });
        await s.waitFor(Promise.all(writers));

        const expected = runsOf(recorded);
        expect(spans(normalizeRanges([...store.items.values()]))).toEqual(expected);
        expect(store.items.size).toBe(expected.length);
      }),
      { numRuns: 300 },
    );
  });

  it('joins runs of a rebuild with single segments indexed meanwhile', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 12 }), async (s, pieces) => {
        const recorded = new Set<bigint>();
        const store = new MemoryRangeStore(() => s.schedule(Promise.resolve()), recorded);
        const writers = pieces.map(async ([from, length]) => {
          await s.schedule(Promise.resolve());
          for (let n = from; n <= from + length; n += 1) recorded.add(BigInt(n));
          expect(await addRun(store, run(BigInt(from), BigInt(from + length)))).toBe(true);
        });
        await s.waitFor(Promise.all(writers));

        const expected = runsOf(recorded);
        expect(spans(normalizeRanges([...store.items.values()]))).toEqual(expected);
        // Overlapping runs can leave overlapping items; compaction always ends with one per run.
        const compacted = new MemoryRangeStore(async () => undefined, recorded);
        for (const [from, item] of store.items) compacted.items.set(from, item);
        expect(spans((await compactRanges(compacted)).ranges)).toEqual(expected);
        expect(compacted.items.size).toBe(expected.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('subtractRun', () => {
  it('trims the low end while new segments are indexed at the high end, never claiming a deleted one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 1, max: 6 }), async (s, cut, added) => {
        const recorded = new Set<bigint>(Array.from({ length: 17 }, (_, n) => BigInt(n)));
        const store = new MemoryRangeStore(() => s.schedule(Promise.resolve()), recorded);
        store.items.set(0n, run(0n, 16n));
        const trimmer = (async () => {
          expect(await subtractRun(store, { from: 0n, to: BigInt(cut) }, async (segno) => ({ name: segmentName(1, segno) }))).toBe(true);
          // Retention deletes the records only once the ranges no longer claim them.
          for (let n = 0n; n <= BigInt(cut); n += 1n) recorded.delete(n);
        })();
        const writers = Array.from({ length: added }, async (_, index) => {
          const segno = BigInt(17 + index);
          await s.schedule(Promise.resolve());
          recorded.add(segno);
          expect(await addRun(store, run(segno))).toBe(true);
        });
        await s.waitFor(Promise.all([trimmer, ...writers]));

        expect(spans(normalizeRanges([...store.items.values()]))).toEqual([[cut + 1, 16 + added]]);
      }),
      { numRuns: 200 },
    );
  });

  it('cuts a range in two around segments deleted in its middle', async () => {
    const recorded = new Set<bigint>(Array.from({ length: 10 }, (_, n) => BigInt(n)));
    const store = new MemoryRangeStore(async () => undefined, recorded);
    store.items.set(0n, run(0n, 9n));
    await subtractRun(store, { from: 4n, to: 5n }, async (segno) => ({ name: segmentName(1, segno), archivedAt: `t${segno}` }));
    expect(spans([...store.items.values()].sort((a, b) => Number(a.from - b.from)))).toEqual([[0, 3], [6, 9]]);
    expect(store.items.get(0n)!.last).toEqual({ name: segmentName(1, 3n), archivedAt: 't3' });
    expect(store.items.get(6n)!.first).toEqual({ name: segmentName(1, 6n), archivedAt: 't6' });
  });
});
