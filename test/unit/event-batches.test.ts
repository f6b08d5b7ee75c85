import { describe, expect, it } from 'vitest';
import { inBatches } from '../../shared/local/object-events';

// Local mode's delivery of WAL records in batches: what arrives while a delivery runs goes
// in the next one, all together; every add resolves once its own item was delivered.
describe('inBatches', () => {
  it('delivers the first item alone and the items added meanwhile together, each add resolving after its delivery', async () => {
    // Prepare: a delivery held open until the test releases it
    const delivered: number[][] = [];
    let release: () => void = () => undefined;
    const add = inBatches<number>(async (items) => {
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
    const add = inBatches<number>(async (items) => {
      delivered.push(items.length);
      if (delivered.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });

    const adds = Array.from({ length: 251 }, (_, n) => add(n));
    release();
    await Promise.all(adds);
    await add(999);

    expect(delivered).toEqual([1, 100, 100, 50, 1]);
  });
});
