import { normalizeRanges, type RangeEnd, type WalRange } from '../../domain/wal/ranges';

/**
 * How the catalog keeps a timeline's archived ranges up to date while segments are
 * indexed concurrently, written once against a small store contract (`RangeStore`) so that
 * the same protocol runs on DynamoDB and, in tests, on an in-memory store under every
 * interleaving fast-check finds.
 *
 * The invariant: every stored range says only that its own segments are recorded (the
 * segment's record is written before any range claims it, and a range is shrunk before
 * the records it claims are deleted). Ranges may overlap or touch while writers settle;
 * readers join them (`normalizeRanges`), so a lost race costs an item, never a false
 * "continuous". Settling after each write merges neighbours: a writer that creates a range
 * looks left and right after its write, one that extends a range looks right, so of two
 * writers of adjacent segments at least one sees the other's write (both write, then read,
 * on strongly consistent reads) and merges them. A writer that dies half-way leaves
 * overlapping items: `compactRanges` (run by the WAL checkpoint) joins them.
 *
 * Merging always moves coverage to the range with the lower `from`, and an end only grows,
 * so among writers that add, a range removed is always covered by one that stays. Cutting
 * segments out (retention) goes the other way — the part after the cut needs a new, higher
 * key — so that part is written first and marked `split`: writers never remove a split
 * range (a writer holding a stale view of the range being cut would otherwise remove the
 * part after the cut as "covered"); only a later cut through it does.
 */

/**
 * The ranges of one database's timeline as stored, keyed by their first segment number.
 * Conditional writes only: each answers false, changing nothing, when its condition fails.
 */
export interface RangeStore {
  /** The range with the greatest `from` at or below `segno`, or undefined. */
  floor(segno: bigint): Promise<WalRange | undefined>;
  /** The ranges whose `from` lies in `low`..`high` (inclusive), ascending. */
  between(low: bigint, high: bigint): Promise<WalRange[]>;
  /** Writes `range` unless a range starts at its `from`. */
  create(range: WalRange): Promise<boolean>;
  /** Moves the end of the range starting at `from` to `to` (with its `last`), if it still ends at `expectedTo`. */
  setEnd(from: bigint, expectedTo: bigint, to: bigint, last: RangeEnd): Promise<boolean>;
  /** Removes the range starting at `from` if it still ends at `expectedTo` and is not `split` (unless `splitToo`). */
  remove(from: bigint, expectedTo: bigint, splitToo?: boolean): Promise<boolean>;
}

/** Lost conditions before giving up on one write (each loss means another writer progressed). */
const ATTEMPTS = 64;
/** The highest segment number (64-bit LSNs over the smallest, 1 MiB, segments). */
export const MAX_SEGNO = (1n << 44n) - 1n;

/**
 * Adds a run of recorded segments (all of `run.from`..`run.to` must be recorded already)
 * to the ranges, then merges it with its neighbours. Idempotent. Returns false when it lost
 * every attempt to concurrent writers (it then changed nothing: run it again).
 */
export async function addRun(store: RangeStore, run: WalRange): Promise<boolean> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const below = await store.floor(run.from);
    if (below && below.to >= run.to) return true;
    if (below && below.to + 1n >= run.from) {
      if (!(await store.setEnd(below.from, below.to, run.to, run.last))) continue;
      await settle(store, run.from, { ...below, to: run.to, last: run.last }, false);
      return true;
    }
    if (!(await store.create(run))) continue;
    await settle(store, run.from, run, true);
    return true;
  }
  return false;
}

/**
 * Merges the range holding `anchor` with ranges that touch or overlap it: the one before
 * it absorbs it (when `lookLeft`), it absorbs those starting inside it or right after it.
 * Stops when nothing touches it, or after ATTEMPTS rounds (leaving touching ranges,
 * which readers join and compaction merges).
 */
async function settle(store: RangeStore, anchor: bigint, known: WalRange | undefined, lookLeft: boolean): Promise<void> {
  let current = known;
  for (let round = 0; round < ATTEMPTS; round += 1) {
    current ??= await store.floor(anchor);
    if (!current || current.to < anchor) return;
    if (lookLeft && !current.split && current.from > 0n) {
      const left = await store.floor(current.from - 1n);
      if (left && left.to + 1n >= current.from) {
        if (left.to < current.to && !(await store.setEnd(left.from, left.to, current.to, current.last))) {
          current = undefined;
          continue;
        }
        // The range absorbed is within `left` now; if it grew meanwhile the removal fails and the next round merges again.
        await store.remove(current.from, current.to);
        current = undefined;
        continue;
      }
    }
    const right = (await store.between(current.from + 1n, current.to + 1n)).filter((range) => !range.split);
    if (right.length === 0) return;
    const far = right.reduce((a, b) => (b.to > a.to ? b : a));
    if (far.to > current.to) {
      if (!(await store.setEnd(current.from, current.to, far.to, far.last))) {
        current = undefined;
        continue;
      }
      current = { ...current, to: far.to, last: far.last };
    }
    for (const range of right) await store.remove(range.from, range.to);
  }
}

/**
 * Joins every range of the store that touches or overlaps another: the first of each
 * joined run keeps it, the others are removed. Returns the joined ranges and how many
 * items were read and removed. A lost condition leaves that run for the next compaction.
 */
export async function compactRanges(store: RangeStore): Promise<{ ranges: WalRange[]; read: number; removed: number }> {
  const stored = await store.between(0n, MAX_SEGNO);
  const ranges = normalizeRanges(stored);
  let removed = 0;
  for (const joined of ranges) {
    const parts = stored.filter((range) => range.from >= joined.from && range.from <= joined.to && (range.from === joined.from || !range.split));
    if (parts.length < 2) continue;
    const head = parts.reduce((a, b) => (b.from < a.from || (b.from === a.from && b.to > a.to) ? b : a));
    if (head.to < joined.to && !(await store.setEnd(head.from, head.to, joined.to, joined.last))) continue;
    for (const part of parts) {
      if (part !== head && (await store.remove(part.from, part.to))) removed += 1;
    }
  }
  return { ranges, read: stored.length, removed };
}

/**
 * Takes segments `from`..`to` out of the ranges (before their records are deleted): a
 * range across them is cut in two, one inside them removed. `endAt` gives the name and
 * time of a segment that becomes a range's new end. Returns false when it lost every
 * attempt to concurrent writers.
 */
export async function subtractRun(store: RangeStore, hole: { from: bigint; to: bigint }, endAt: (segno: bigint) => Promise<RangeEnd>): Promise<boolean> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const overlapping = (await store.between(0n, hole.to)).filter((range) => range.to >= hole.from);
    if (overlapping.length === 0) return true;
    let lost = false;
    for (const range of overlapping) {
      if (range.to > hole.to) {
        // The part after the hole first: the segments it claims stay claimed throughout.
        const start = hole.to + 1n;
        const tail: WalRange = { timeline: range.timeline, from: start, to: range.to, first: await endAt(start), last: range.last, split: true };
        if (!(await store.create(tail))) {
          const existing = await store.floor(start);
          if (!existing || existing.from !== start || (existing.to < range.to && !(await store.setEnd(start, existing.to, range.to, range.last)))) {
            lost = true;
            break;
          }
        }
      }
      const kept = range.from < hole.from ? await store.setEnd(range.from, range.to, hole.from - 1n, await endAt(hole.from - 1n)) : await store.remove(range.from, range.to, true);
      if (!kept) {
        lost = true;
        break;
      }
    }
    if (!lost) return true;
  }
  return false;
}
