import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as zlib from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseCodec, decode, encode, sha256Hex } from '../../shared/wal-host/codec';
import { zlibZstd, type ZlibZstd } from '../../shared/wal-host/native-zstd';
import { prepareWalFile } from '../../shared/wal-host/push-file';
import { runWithInput } from '../support/pg';
import { makeSegment, removeDir, seg, tempDir } from './harness';

const raw = makeSegment(3);
let base: string;
beforeAll(async () => (base = await tempDir('sbx-codec-')));
afterAll(async () => removeDir(base));

/** Runs `work` with stderr captured; resolves its lines. */
function stderrOf(work: () => void): string[] {
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    work();
  } finally {
    process.stderr.write = original;
  }
  return written;
}

describe('encode / decode', () => {
  it.each(['none', 'gzip', 'zstd'] as const)('%s round-trips a segment, and the stored bytes are what the format says', async (compression) => {
    // Act
    const { stored, compression: used } = await encode(raw, compression);
    const back = await decode(stored, compression, raw.length);

    // Assess: independent tools read what we stored
    expect(used).toBe(compression);
    expect(back.equals(raw)).toBe(true);
    if (compression === 'gzip') expect(zlib.gunzipSync(stored).equals(raw)).toBe(true);
    if (compression === 'zstd') expect((await runWithInput('zstd', ['-d', '-q', '-c'], stored)).equals(raw)).toBe(true);
    if (compression !== 'none') expect(stored.length).toBeLessThan(raw.length * 0.7);
  });

  it('refuses damaged bytes with WAL_CODEC_FAILED, for both codecs', async () => {
    const junk = Buffer.from('definitely not compressed');
    await expect(decode(junk, 'gzip', raw.length)).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
    await expect(decode(junk, 'zstd', raw.length)).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
  });

  it('sha256Hex agrees with node:crypto', () => {
    expect(sha256Hex(raw)).toBe(createHash('sha256').update(raw).digest('hex'));
  });
});

describe('a host without in-process zstd (Node 20 without the addon)', () => {
  it('pushes gzip instead, and the process says so once when it chooses its codec', async () => {
    // Prepare
    const path = join(base, seg(4));
    const written = makeSegment(4);
    await writeFile(path, written);

    // Act
    let codec: ReturnType<typeof chooseCodec> | undefined;
    const said = stderrOf(() => (codec = chooseCodec('zstd', { native: null })));
    const file = await prepareWalFile(path, 'zstd', codec);
    const quiet = [...stderrOf(() => chooseCodec('gzip', { native: null })), ...stderrOf(() => chooseCodec('zstd', {}))];

    // Assess
    try {
      expect(said.filter((line) => line.includes('no in-process zstd'))).toHaveLength(1);
      expect(said[0]).toMatch(/npm ci/);
      expect(quiet).toEqual([]);
      expect(file.declaration.compression).toBe('gzip');
      expect(zlib.gunzipSync(file.stored).equals(written)).toBe(true);
    } finally {
      file.release();
    }
  });

  it('decodes what `zstd -1` wrote in JavaScript, from a file (size in the frame) and from a pipe (size from the record)', async () => {
    // Prepare
    const input = join(base, 'six');
    await writeFile(input, raw);
    const fromFile = await runWithInput('sh', ['-c', 'zstd -1 -q -c -- "$1"', 'sh', input], Buffer.alloc(0));
    const fromPipe = await runWithInput('zstd', ['-1', '-q', '-c'], raw);

    // Act
    const back = [await decode(fromFile, 'zstd', raw.length, { native: null }), await decode(fromPipe, 'zstd', raw.length, { native: null })];

    // Assess
    for (const bytes of back) expect(bytes.equals(raw)).toBe(true);
  });

  it('refuses junk, a frame of another size than the record, and a cut frame, with WAL_CODEC_FAILED', async () => {
    // Prepare
    const stored = await runWithInput('zstd', ['-1', '-q', '-c'], raw);

    // Act
    const errors = await Promise.all([
      decode(Buffer.from('definitely not compressed'), 'zstd', raw.length, { native: null }).catch((e: unknown) => e),
      decode(stored, 'zstd', raw.length - 1, { native: null }).catch((e: unknown) => e),
      decode(stored, 'zstd', raw.length + 1, { native: null }).catch((e: unknown) => e),
      decode(stored.subarray(0, stored.length - 100), 'zstd', raw.length, { native: null }).catch((e: unknown) => e),
    ]);

    // Assess
    for (const error of errors) expect(error).toMatchObject({ code: 'WAL_CODEC_FAILED', hint: expect.stringMatching(/damaged/) });
  });
});

describe("Node's zlib zstd (Node 22.15+)", () => {
  /** A stand-in for Node 22's zlib over the zstd command, recording what it was asked. */
  function standIn() {
    const calls: unknown[] = [];
    const fake: ZlibZstd = {
      constants: { ZSTD_c_compressionLevel: 100, ZSTD_c_checksumFlag: 201 },
      zstdCompressSync(bytes, options) {
        calls.push(options);
        return execFileSync('zstd', ['-1', '-q', '-c'], { input: bytes, maxBuffer: 64 << 20 });
      },
      zstdDecompressSync(stored, options) {
        calls.push(options);
        const out = execFileSync('zstd', ['-d', '-q', '-c'], { input: stored, maxBuffer: 64 << 20 });
        if (out.length > options.maxOutputLength) throw new RangeError(`Cannot create a Buffer larger than ${options.maxOutputLength} bytes`);
        return out;
      },
    };
    return { fake, calls };
  }

  it('is there only where zlib has zstd (this Node: ' + process.version + ')', () => {
    expect(zlibZstd() === undefined).toBe(typeof (zlib as unknown as Partial<ZlibZstd>).zstdCompressSync !== 'function');
    expect(zlibZstd({})).toBeUndefined();
  });

  it('asks for level 1 with a checksum and the size pledged, bounds the output by the record, and checks the size', () => {
    // Prepare
    const { fake, calls } = standIn();
    const zstd = zlibZstd(fake)!;
    const take = (size: number) => Buffer.allocUnsafe(size);

    // Act
    const frame = zstd.compress(raw, take);
    const back = zstd.decompress(frame, raw.length, take);
    const bigger = (() => {
      try {
        return zstd.decompress(frame, raw.length - 1, take);
      } catch (error) {
        return error;
      }
    })();

    // Assess
    expect(back.equals(raw)).toBe(true);
    expect(calls[0]).toEqual({ params: { 100: 1, 201: 1 }, pledgedSrcSize: raw.length });
    expect(calls[1]).toEqual({ maxOutputLength: raw.length });
    expect(bigger).toMatchObject({ code: 'WAL_CODEC_FAILED', hint: expect.stringMatching(/damaged/) });
  });
});
