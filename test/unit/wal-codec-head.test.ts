import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeHead } from '../../shared/adapters/wal-codec/inspect';
import { HEAD_PREFIX_BYTES as PREFIX_BYTES } from '../../shared/ports/wal-codec';
import { fakeSegment, zstdOf } from '../support/wal-files';

describe('decodeHead: the first decoded bytes of a stored WAL object from its first bytes only', () => {
  const segment = fakeSegment({ segno: 9n });

  it.each([
    ['zstd', zstdOf(segment)],
    ['gzip', gzipSync(segment, { level: 1 })],
  ] as const)('%s: the first 40 decoded bytes come out of the first 256 KiB of a random 1 MiB segment', async (compression, stored) => {
    // Prepare: incompressible, so the stored object is far longer than the prefix
    expect(stored.length).toBeGreaterThan(PREFIX_BYTES);
    // Act
    const head = await decodeHead(stored.subarray(0, PREFIX_BYTES), compression, 40);
    // Assess
    expect(head).toEqual(segment.subarray(0, 40));
  });

  it('uncompressed: the prefix is the file', async () => {
    expect(await decodeHead(segment.subarray(0, 100), 'none', 40)).toEqual(segment.subarray(0, 40));
  });

  it('answers undefined (read it whole) for bytes that are not the declared compression, or too short a prefix', async () => {
    // Prepare
    const stored = zstdOf(segment);
    // Act / Assess
    expect(await decodeHead(segment.subarray(0, PREFIX_BYTES), 'zstd', 40)).toBeUndefined();
    expect(await decodeHead(stored.subarray(0, PREFIX_BYTES), 'gzip', 40)).toBeUndefined();
    expect(await decodeHead(stored.subarray(0, 30), 'zstd', 40)).toBeUndefined();
    expect(await decodeHead(segment.subarray(0, 10), 'none', 40)).toBeUndefined();
  });
});
