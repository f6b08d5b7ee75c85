import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { StrongboxError } from '../../shared/errors';
import { nativeZstd } from '../../shared/wal-host/native-zstd';
import { ZstdWorker } from '../../shared/wal-host/zstd-workers';
import { runWithInput } from '../support/pg';
import { makeSegment, MIB, removeDir, tempDir } from './harness';

// The uploader's compression workers: each reads a WAL file in chunks through the uploader's
// descriptor, through SHA-256 and zstd into shared memory. The addon must be there (see
// native-zstd.test.ts).
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function shared(bytes: Buffer | number): Buffer {
  const size = typeof bytes === 'number' ? bytes : bytes.length;
  const view = Buffer.from(new SharedArrayBuffer(size));
  if (typeof bytes !== 'number') bytes.copy(view);
  return view;
}

function addonPath(): string {
  const path = nativeZstd()?.path;
  if (!path) throw new Error('the zstd-napi addon did not load: run `npm ci` with python3, make and g++ present');
  return path;
}

let base: string;
const handles: FileHandle[] = [];
beforeAll(async () => {
  base = await tempDir('sbx-zstdw-');
});
afterAll(async () => {
  await Promise.all(handles.map((handle) => handle.close()));
  await removeDir(base);
});

/** `bytes` written to a file, opened for reading (closed after the tests). */
let files = 0;
async function opened(bytes: Buffer): Promise<FileHandle> {
  const path = join(base, `f${++files}`);
  await writeFile(path, bytes);
  const handle = await open(path, 'r');
  handles.push(handle);
  return handle;
}

describe('ZstdWorker', () => {
  it('reads several files at once, in chunks, into frames zstd -d reads back, with the SHA-256 of each side', async () => {
    // Prepare: 1 MiB segments, and a 3.5 MiB file that takes several chunks and a short last one
    const workers = new ZstdWorker(addonPath());
    const raws = [...[21, 22, 23].map((segno) => makeSegment(segno)), makeSegment(24, { size: 4 * MIB }).subarray(0, 3.5 * MIB)];
    const files = await Promise.all(raws.map(opened));

    // Act
    const outs = raws.map((raw) => shared(raw.length + (1 << 17)));
    let answers;
    try {
      answers = await Promise.all(raws.map((raw, index) => workers.compressFile(files[index]!.fd, raw.length, outs[index]!)));
    } finally {
      await workers.close();
    }

    // Assess
    for (const [index, answer] of answers.entries()) {
      const frame = outs[index]!.subarray(0, answer.size);
      expect(answer.rawSha256).toBe(sha(raws[index]!));
      expect(answer.storedSha256).toBe(sha(frame));
      expect((await runWithInput('zstd', ['-d', '-q', '-c'], Buffer.from(frame))).equals(raws[index]!)).toBe(true);
    }
  });

  it('writes a frame with the window it is given: the whole file in it (single segment) with 2^24, level 1 default of 2^19 without', async () => {
    // Prepare: 4 MiB, more than level 1's window
    const large = new ZstdWorker(addonPath(), 24);
    const plain = new ZstdWorker(addonPath());
    const raw = makeSegment(27, { size: 4 * MIB });
    const file = await opened(raw);
    const outs = [shared(raw.length + (1 << 17)), shared(raw.length + (1 << 17))];

    // Act
    let answers;
    try {
      answers = await Promise.all([large.compressFile(file.fd, raw.length, outs[0]!), plain.compressFile(file.fd, raw.length, outs[1]!)]);
    } finally {
      await Promise.all([large.close(), plain.close()]);
    }

    // Assess: byte 4 is the frame header's descriptor, 0x20 its Single_Segment_flag (RFC 8878)
    const frames = answers.map((answer, index) => outs[index]!.subarray(0, answer.size));
    expect(frames.map((frame) => (frame[4]! & 0x20) !== 0)).toEqual([true, false]);
    for (const [index, answer] of answers.entries()) {
      expect(answer.rawSha256).toBe(sha(raw));
      expect(answer.storedSha256).toBe(sha(frames[index]!));
      expect((await runWithInput('zstd', ['-d', '-q', '-c'], Buffer.from(frames[index]!))).equals(raw)).toBe(true);
    }
  });

  it('fails with WAL_READ_FAILED when the file ends before the size it was asked for, and goes on with the next', async () => {
    // Prepare
    const workers = new ZstdWorker(addonPath());
    const raw = makeSegment(26);
    const file = await opened(raw);
    workers.warm();

    // Act
    try {
      const short = (await workers.compressFile(file.fd, raw.length + 1, shared(2 * MIB)).catch((e: unknown) => e)) as StrongboxError;
      const next = await workers.compressFile(file.fd, raw.length, shared(2 * MIB));

      // Assess
      expect(short.code).toBe('WAL_READ_FAILED');
      expect(short.message).toMatch(/ended early/);
      expect(next.rawSha256).toBe(sha(raw));
    } finally {
      await workers.close();
    }
  });

  it('fails one request with WAL_CODEC_FAILED when the output cannot hold the frame, and goes on with the next', async () => {
    // Prepare
    const workers = new ZstdWorker(addonPath());
    const raw = makeSegment(25);
    const file = await opened(raw);

    // Act
    try {
      const tooSmall = (await workers.compressFile(file.fd, raw.length, shared(64)).catch((e: unknown) => e)) as StrongboxError;
      const next = await workers.compressFile(file.fd, raw.length, shared(raw.length + (1 << 17)));

      // Assess
      expect(tooSmall.code).toBe('WAL_CODEC_FAILED');
      expect(next.rawSha256).toBe(sha(raw));
    } finally {
      await workers.close();
    }
  });

  it('refuses an output that is not shared, and fails with WAL_CODEC_FAILED when the addon does not load or the pool is closed', async () => {
    // Prepare
    const broken = new ZstdWorker('/nonexistent/zstd.node');
    const workers = new ZstdWorker(addonPath());
    await workers.close();

    // Act
    const notShared = (() => {
      try {
        void broken.compressFile(0, 8, Buffer.alloc(8));
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    const file = await opened(Buffer.alloc(8));
    const missing = (await broken.compressFile(file.fd, 8, shared(1024)).catch((e: unknown) => e)) as StrongboxError;
    const closed = (await workers.compressFile(file.fd, 8, shared(1024)).catch((e: unknown) => e)) as StrongboxError;
    await broken.close();

    // Assess
    expect(notShared).toBeInstanceOf(TypeError);
    expect(missing.code).toBe('WAL_CODEC_FAILED');
    expect(missing.message).toMatch(/worker stopped/);
    expect(closed.code).toBe('WAL_CODEC_FAILED');
  });
});
