import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { StrongboxError } from '../../shared/errors';
import { prepareWalFile } from '../../shared/wal-host/push-file';
import { ZstdRunners } from '../../shared/wal-host/zstd-runner';
import { runWithInput } from '../support/pg';
import { makeSegment, removeDir, seg, SYSTEM_ID, tempDir } from './harness';

// The push's data path: zstd reads the segment file itself and writes into the spool (by a
// runners made for the call, or the uploader's kept ones), and what is declared must be
// exactly what a reader of the stored bytes gets back.
let base: string;
let walDir: string;
let scratch: string;

beforeAll(async () => {
  base = await tempDir('sbx-zstdfile-');
  walDir = join(base, 'pg_wal');
  scratch = join(base, 'out');
  await Promise.all([mkdir(walDir), mkdir(scratch)]);
});
afterAll(async () => removeDir(base));

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function writeSegment(segno: number): Promise<{ path: string; raw: Buffer }> {
  const raw = makeSegment(segno);
  const path = join(walDir, seg(segno));
  await writeFile(path, raw);
  return { path, raw };
}

describe('prepareWalFile with zstd reading the file', () => {
  it.each([
    ['runners made for the call', () => undefined],
    ['the shell runners', () => new ZstdRunners()],
  ])('through %s: declares the file and stores bytes that zstd -d gives back, leaving no temporary file', async (_how, makeRunners) => {
    // Prepare
    const runners = makeRunners();
    const { path, raw } = await writeSegment(11);

    // Act
    const file = await prepareWalFile(path, 'zstd', { native: null, scratchDir: scratch, ...(runners ? { runners } : {}) });

    // Assess
    try {
      expect(file.declaration).toMatchObject({ size: raw.length, sha256: sha(raw), storedSize: file.stored.length, storedSha256: sha(file.stored), compression: 'zstd', systemId: SYSTEM_ID });
      expect((await runWithInput('zstd', ['-d', '-q', '-c'], file.stored)).equals(raw)).toBe(true);
      expect(await readdir(scratch)).toEqual([]);
    } finally {
      file.release();
      runners?.close();
    }
  });

  it('runners take one request after another, and several at once', async () => {
    const runners = new ZstdRunners();
    try {
      const segments = await Promise.all([12, 13, 14].map(writeSegment));
      const first = await Promise.all(segments.map(({ path }) => prepareWalFile(path, 'zstd', { native: null, scratchDir: scratch, runners })));
      const second = await prepareWalFile(segments[0]!.path, 'zstd', { native: null, scratchDir: scratch, runners });
      for (const [index, file] of first.entries()) expect(file.declaration.sha256).toBe(sha(segments[index]!.raw));
      expect(second.declaration.storedSha256).toBe(first[0]!.declaration.storedSha256);
      [...first, second].forEach((file) => file.release());
    } finally {
      runners.close();
    }
  });

  it.each([
    ['runners made for the call', false],
    ['the shell runners', true],
  ])('falls back to gzip through %s when zstd is missing', async (_how, useRunners) => {
    // Prepare
    const runners = useRunners ? new ZstdRunners('/nonexistent/zstd') : undefined;
    const { path, raw } = await writeSegment(15);

    // Act
    const file = await prepareWalFile(path, 'zstd', { native: null, scratchDir: scratch, zstd: '/nonexistent/zstd', ...(runners ? { runners } : {}) });

    // Assess
    try {
      expect(file.declaration.compression).toBe('gzip');
      expect(gunzipSync(file.stored).equals(raw)).toBe(true);
    } finally {
      file.release();
      runners?.close();
    }
  });

  it('refuses a file that changed while zstd read it (WAL_READ_FAILED), keeping no temporary file', async () => {
    // Prepare: a "zstd" that first rewrites the segment's mtime, as a writer into pg_wal would
    const fake = join(base, 'touching-zstd');
    await writeFile(fake, '#!/bin/sh\nfor last; do :; done\ntouch -d "2001-01-01" "$last"\nexec zstd "$@"\n');
    await chmod(fake, 0o755);
    const { path } = await writeSegment(16);

    // Act
    const error = (await prepareWalFile(path, 'zstd', { native: null, scratchDir: scratch, zstd: fake }).catch((e: unknown) => e)) as StrongboxError;

    // Assess
    expect(error.code).toBe('WAL_READ_FAILED');
    expect(error.message).toMatch(/changed while it was read/);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('reports a zstd failure with WAL_CODEC_FAILED and its message, through the runners too', async () => {
    const fake = join(base, 'failing-zstd');
    await writeFile(fake, '#!/bin/sh\necho "zstd: no space left on device" >&2\nexit 1\n');
    await chmod(fake, 0o755);
    const { path } = await writeSegment(17);
    const runners = new ZstdRunners(fake);
    try {
      for (const options of [{ zstd: fake }, { runners }]) {
        const error = (await prepareWalFile(path, 'zstd', { native: null, scratchDir: scratch, ...options }).catch((e: unknown) => e)) as StrongboxError;
        expect(error.code).toBe('WAL_CODEC_FAILED');
        expect(error.message).toMatch(/no space left on device/);
      }
      expect(await readdir(scratch)).toEqual([]);
    } finally {
      runners.close();
    }
  });

  it('refuses a path with a line break before it reaches a runner', async () => {
    const runners = new ZstdRunners();
    try {
      await expect(runners.compress('/tmp/a\nb', join(scratch, 'x.zst'))).rejects.toMatchObject({ code: 'WAL_CODEC_FAILED' });
    } finally {
      runners.close();
    }
  });
});
