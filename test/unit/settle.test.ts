import { describe, expect, it } from 'vitest';
import { settleAll } from '../../shared/usecases/settle';

function later<T>(ms: number, value: T, fail = false): Promise<T> {
  return new Promise((resolve, reject) => setTimeout(() => (fail ? reject(value as Error) : resolve(value)), ms));
}

describe('settleAll', () => {
  it('returns every value in order when all succeed', async () => {
    await expect(settleAll<[number, string]>([later(5, 1), later(1, 'a')])).resolves.toEqual([1, 'a']);
  });

  it('throws the first failure, only after the slower tasks have finished', async () => {
    const finished: string[] = [];
    const slow = later(30, 'slow').then((v) => (finished.push(v), v));
    const seen: unknown[] = [];
    await expect(settleAll([later(1, new Error('first'), true), later(10, new Error('second'), true), slow], (e) => seen.push(e))).rejects.toThrow('first');
    expect(finished).toEqual(['slow']);
    expect(seen).toEqual([new Error('first')]);
  });
});
