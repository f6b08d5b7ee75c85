import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CoalescingStream } from '../../../shared/adapters/storage/coalesce';

/** The writes a consumer sees ('data' events, as pipe() and pipeline() deliver them). */
function writesOf(source: Buffer[], target: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const writes: Buffer[] = [];
    const stream = Readable.from(source).pipe(new CoalescingStream(target));
    stream.on('data', (chunk: Buffer) => writes.push(chunk));
    stream.on('end', () => resolve(writes));
    stream.on('error', reject);
  });
}

async function chunksOf(source: Buffer[], target: number): Promise<number[]> {
  return (await writesOf(source, target)).map((chunk) => chunk.length);
}

describe('CoalescingStream', () => {
  it('gathers small chunks into batches of at least the target, the rest at the end, bytes unchanged', async () => {
    const source = Array.from({ length: 10 }, (_, i) => Buffer.alloc(300, i));
    expect(await chunksOf(source, 1000)).toEqual([1200, 1200, 600]);
    expect(Buffer.concat(await writesOf(source, 1000)).equals(Buffer.concat(source))).toBe(true);
  });

  it('passes a chunk larger than the target through as it is, and nothing for an empty stream', async () => {
    expect(await chunksOf([Buffer.alloc(5000)], 1000)).toEqual([5000]);
    expect(await chunksOf([], 1000)).toEqual([]);
  });
});
