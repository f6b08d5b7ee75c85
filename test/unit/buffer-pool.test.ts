import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../shared/domain/buffer-pool';

const MIB = 1 << 20;

describe('BufferPool', () => {
  it('gives back the smallest free buffer that fits, as a view of the asked size', () => {
    // Prepare
    const pool = new BufferPool();
    const big = pool.take(16 * MIB);
    const small = pool.take(6 * MIB);
    pool.give(big);
    pool.give(small);

    // Act
    const again = pool.take(6 * MIB + 123);

    // Assess: the 8 MiB one (6 MiB rounded up to 4 MiB steps), not the 16 MiB one
    expect(again.length).toBe(6 * MIB + 123);
    expect(again.buffer).toBe(small.buffer);
    expect(pool.take(16 * MIB).buffer).toBe(big.buffer);
  });

  it('allocates when nothing free fits, and keeps at most `keep` free buffers', () => {
    const pool = new BufferPool(1);
    const a = pool.take(4 * MIB);
    const b = pool.take(4 * MIB);
    expect(a.buffer).not.toBe(b.buffer);
    pool.give(a);
    pool.give(b); // over the limit: dropped
    expect(pool.take(4 * MIB).buffer).toBe(a.buffer);
    expect(pool.take(4 * MIB).buffer).not.toBe(b.buffer);
  });

  it('does not pool small buffers (history files, labels)', () => {
    const pool = new BufferPool();
    const small = pool.take(300);
    pool.give(small);
    expect(small.length).toBe(300);
    const again = pool.take(300);
    expect(again.buffer === small.buffer && again.byteOffset === small.byteOffset).toBe(false);
  });
});
