import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, encode, sha256Hex, zstdDecodeFile, zstdFile } from '../../shared/wal-host/codec';
import { ZstdRunners } from '../../shared/wal-host/zstd-runner';
import type { StrongboxError } from '../../shared/errors';
import { runWithInput } from '../support/pg';
import { makeSegment, removeDir, tempDir } from './harness';

const raw = makeSegment(3);

describe('encode / decode', () => {
  it.each(['none', 'gzip', 'zstd'] as const)('%s round-trips a segment, and the stored bytes are what the format says', async (compression) => {
    // Act
    const { stored, compression: used } = await encode(raw, compression);
    const back = await decode(stored, compression);

    // Assess: independent tools read what we stored
    expect(used).toBe(compression);
    expect(back.equals(raw)).toBe(true);
    if (compression === 'gzip') expect(gunzipSync(stored).equals(raw)).toBe(true);
    if (compression === 'zstd') expect((await runWithInput('zstd', ['-d', '-q', '-c'], stored)).equals(raw)).toBe(true);
    if (compression !== 'none') expect(stored.length).toBeLessThan(raw.length * 0.7);
  });

  it('the zstd command missing: compression falls back to gzip (said once per process), decompression refuses with WAL_CODEC_FAILED', async () => {
    // Prepare
    const dir = await tempDir('sbx-codec-');
    const path = join(dir, 'segment');
    await writeFile(path, raw);
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    // One set of runners for the process, as the uploader makes at start-up: it says it once.
    const runners = new ZstdRunners('/nonexistent/zstd');
    try {
      // Act
      const first = await zstdFile(path, dir, (size) => Buffer.alloc(size), { runners });
      const second = await zstdFile(path, dir, (size) => Buffer.alloc(size), { runners });
      const refused = (await zstdDecodeFile(Buffer.from('any'), join(dir, 'out'), dir, new Set(), { runners }).catch((e: unknown) => e)) as StrongboxError;

      // Assess
      expect([first, second]).toEqual([undefined, undefined]);
      expect(written.filter((line) => line.includes('zstd command is not installed'))).toHaveLength(1);
      expect(refused.code).toBe('WAL_CODEC_FAILED');
      expect(refused.hint).toMatch(/install zstd/);
      expect(await readdir(dir)).toEqual(['segment']);
    } finally {
      process.stderr.write = original;
      runners.close();
      await removeDir(dir);
    }
  });

  it('refuses damaged bytes with WAL_CODEC_FAILED, for both codecs, and zstd in memory without the addon', async () => {
    const junk = Buffer.from('definitely not compressed');
    await expect(decode(junk, 'gzip')).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
    await expect(decode(junk, 'zstd')).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
    await expect(decode(junk, 'zstd', { native: null })).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
    await expect(encode(raw, 'zstd', { native: null })).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
  });

  it('sha256Hex agrees with node:crypto', () => {
    expect(sha256Hex(raw)).toBe(createHash('sha256').update(raw).digest('hex'));
  });
});
