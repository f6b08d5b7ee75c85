import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { decode, encode, sha256Hex, ZstdCommand } from '../../shared/wal-host/codec';
import type { StrongboxError } from '../../shared/errors';
import { runWithInput } from '../support/pg';
import { makeSegment } from './harness';

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

  it('falls back to gzip when the zstd binary is missing, and says so once', async () => {
    // Prepare
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      // Act
      // One command for the process, as the uploader makes at start-up: it says it once.
      const command = new ZstdCommand('/nonexistent/zstd');
      const first = await encode(raw, 'zstd', { command, native: null });
      const second = await encode(raw, 'zstd', { command, native: null });

      // Assess
      expect([first.compression, second.compression]).toEqual(['gzip', 'gzip']);
      expect(gunzipSync(first.stored).equals(raw)).toBe(true);
      expect(written.filter((line) => line.includes('zstd command is not installed'))).toHaveLength(1);
    } finally {
      process.stderr.write = original;
    }
  });

  it('refuses damaged bytes with WAL_CODEC_FAILED, for both codecs, and a missing zstd on decode', async () => {
    const junk = Buffer.from('definitely not compressed');
    await expect(decode(junk, 'gzip')).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
    await expect(decode(junk, 'zstd')).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
    const missing = (await decode(junk, 'zstd', { zstd: '/nonexistent/zstd', native: null }).catch((e: unknown) => e)) as StrongboxError;
    expect(missing.code).toBe('WAL_CODEC_FAILED');
    expect(missing.hint).toMatch(/install zstd/);
  });

  it('sha256Hex agrees with node:crypto', () => {
    expect(sha256Hex(raw)).toBe(createHash('sha256').update(raw).digest('hex'));
  });
});
