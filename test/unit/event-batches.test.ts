import { describe, expect, it } from 'vitest';
import { inBatches } from '../../shared/local/object-events';

// Local mode's delivery of WAL records in batches: what arrives while a delivery runs goes
// in the next one, all together; every add resolves once its own item was delivered.
/** A clock the test moves, and a sleep that records its length and resolves when `advance` moves the clock. */
function heldTime(start: number) {
  let wakeUp: () => void = () => undefined;
  const time = {
    clock: start,
    sleeps: [] as number[],
    timing: {
      now: () => time.clock,
      sleep: (ms: number) => {
        time.sleeps.push(ms);
        return new Promise<void>((resolve) => (wakeUp = resolve));
      },
    },
    async advance(ms: number) {
      time.clock += ms;
      wakeUp();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return time;
}

describe('inBatches', () => {
  it('delivers the first item alone and the items added meanwhile together, each add resolving after its delivery', async () => {
    // Prepare: a delivery held open until the test releases it
    const delivered: number[][] = [];
    let release: () => void = () => undefined;
    const { add } = inBatches<number>(async (items) => {
      delivered.push([...items]);
      if (delivered.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const settled: number[] = [];

    // Act
    const first = add(1).then(() => settled.push(1));
    const rest = [2, 3, 4].map((n) => add(n).then(() => settled.push(n)));
    await Promise.resolve();
    const whileHeld = [...settled];
    release();
    await Promise.all([first, ...rest]);

    // Assess
    expect(whileHeld).toEqual([]);
    expect(delivered).toEqual([[1], [2, 3, 4]]);
    expect(settled.sort()).toEqual([1, 2, 3, 4]);
  });

  it('delivers at most 100 items at once, and starts again after going idle', async () => {
    const delivered: number[] = [];
    let release: () => void = () => undefined;
    const { add } = inBatches<number>(async (items) => {
      delivered.push(items.length);
      if (delivered.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });

    const adds = Array.from({ length: 251 }, (_, n) => add(n));
    release();
    await Promise.all(adds);
    await add(999);

    expect(delivered).toEqual([1, 100, 100, 50, 1]);
  });

  it('with a window, holds a batch until its first item is that old, then delivers what gathered', async () => {
    // Prepare
    const time = heldTime(1_000);
    const delivered: number[][] = [];
    const { add, settled } = inBatches<number>(async (items) => void delivered.push([...items]), { windowMs: 200, ...time.timing });

    // Act: one item, then two more 50 ms later, then the window ends
    const adds = [add(1)];
    time.clock += 50;
    adds.push(add(2), add(3));
    await Promise.resolve();
    const beforeWindow = delivered.length;
    await time.advance(150);
    await Promise.all(adds);
    await settled();

    // Assess: one sleep of the whole window, one batch of all three
    expect(beforeWindow).toBe(0);
    expect(time.sleeps).toEqual([200]);
    expect(delivered).toEqual([[1, 2, 3]]);
  });

  it('with a quiet period, delivers once no item came for that long, and at the latest when the first is windowMs old', async () => {
    // Prepare
    const time = heldTime(0);
    const delivered: number[][] = [];
    const { add, settled } = inBatches<number>(async (items) => void delivered.push([...items]), { windowMs: 1_000, quietMs: 100, ...time.timing });
    const tick = (ms: number) => time.advance(ms);

    // Act 1: a burst of two items 50 ms apart, then quiet
    const burst = [add(1)];
    await tick(50);
    burst.push(add(2));
    await tick(50); // the first sleep (100 ms) ends: the last item is only 50 ms old
    const afterFirstSleep = delivered.length;
    await tick(50);
    await Promise.all(burst);

    // Act 2: a steady stream, one item every 60 ms for 1.2 s: never quiet, so the window ends the batch
    const sleepsOfBurst = [...time.sleeps];
    const stream: Array<Promise<void>> = [];
    for (let n = 0; n < 20; n++) {
      stream.push(add(10 + n));
      await tick(60);
    }
    await tick(1_000);
    await Promise.all(stream);
    await settled();

    // Assess
    expect(afterFirstSleep).toBe(0);
    // The quiet period; what is left of it at 50 ms; item 2 (at 50 ms) moves its end to 150 ms
    expect(sleepsOfBurst).toEqual([100, 50, 50]);
    expect(delivered[0]).toEqual([1, 2]);
    expect(delivered[1]).toEqual(Array.from({ length: 17 }, (_, n) => 10 + n)); // the first 1,000 ms of the stream
    expect(delivered.slice(2).flat()).toEqual([27, 28, 29]);
  });

  it('with a window, delivers at once when 100 items wait, and settled() waits for the last delivery', async () => {
    const delivered: number[] = [];
    let finishDelivery: () => void = () => undefined;
    const { add, settled } = inBatches<number>(
      async (items) => {
        delivered.push(items.length);
        if (delivered.length === 1) await new Promise<void>((resolve) => (finishDelivery = resolve));
      },
      // A sleep that never ends by itself: only a full batch wakes it.
      { windowMs: 60_000, now: () => 0, sleep: (_ms, wake) => wake },
    );

    const adds = Array.from({ length: 100 }, (_, n) => add(n));
    let isSettled = false;
    const whenSettled = settled().then(() => (isSettled = true));
    await new Promise((resolve) => setImmediate(resolve));
    const settledBefore = isSettled;
    finishDelivery();
    await Promise.all(adds);
    await whenSettled;

    expect(delivered).toEqual([100]);
    expect(settledBefore).toBe(false);
    expect(isSettled).toBe(true);
  });

  it('flush() ends the window at once and resolves after the delivery; settled() alone waits for it', async () => {
    const delivered: number[][] = [];
    const { add, settled, flush } = inBatches<number>(async (items) => void delivered.push([...items]), { windowMs: 60_000, now: () => 0, sleep: (_ms, wake) => wake });

    const adds = [add(1), add(2)];
    let isSettled = false;
    const whenSettled = settled().then(() => (isSettled = true));
    await new Promise((resolve) => setImmediate(resolve));
    const settledBefore = isSettled;
    await flush();
    await Promise.all([...adds, whenSettled]);

    expect(settledBefore).toBe(false);
    expect(delivered).toEqual([[1, 2]]);
  });
});

