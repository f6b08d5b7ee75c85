import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { StrongboxError } from '../../shared/errors';
import { nativeZstd } from '../../shared/wal-host/native-zstd';
import { ZstdWorkers } from '../../shared/wal-host/zstd-workers';
import { runWithInput } from '../support/pg';
import { makeSegment } from './harness';

// The uploader's compression workers: zstd and both SHA-256s on worker threads, over shared
// memory. The addon must be there (see native-zstd.test.ts).
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

describe('ZstdWorkers', () => {
  it('compresses several segments at once into frames zstd -d reads back, with the SHA-256 of each side', async () => {
    // Prepare
    const workers = new ZstdWorkers(addonPath(), 2);
    const raws = [21, 22, 23, 24].map((segno) => makeSegment(segno));

    // Act
    const outs = raws.map((raw) => shared(raw.length + (1 << 17)));
    let answers;
    try {
      answers = await Promise.all(raws.map((raw, index) => workers.compressAndHash(shared(raw), outs[index]!)));
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

  it('is ready once a worker has loaded the addon (until then the uploader compresses on its own thread)', async () => {
    const workers = new ZstdWorkers(addonPath(), 1);
    try {
      const before = workers.ready;
      workers.warm();
      const deadline = Date.now() + 10_000;
      while (!workers.ready && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
      expect([before, workers.ready]).toEqual([false, true]);
    } finally {
      await workers.close();
    }
  });

  it('fails one request with WAL_CODEC_FAILED when the output cannot hold the frame, and goes on with the next', async () => {
    // Prepare
    const workers = new ZstdWorkers(addonPath(), 1);
    const raw = shared(makeSegment(25));

    // Act
    try {
      const tooSmall = (await workers.compressAndHash(raw, shared(64)).catch((e: unknown) => e)) as StrongboxError;
      const next = await workers.compressAndHash(raw, shared(raw.length + (1 << 17)));

      // Assess
      expect(tooSmall.code).toBe('WAL_CODEC_FAILED');
      expect(next.rawSha256).toBe(sha(raw));
    } finally {
      await workers.close();
    }
  });

  it('refuses buffers that are not shared, and fails with WAL_CODEC_FAILED when the addon does not load or the pool is closed', async () => {
    // Prepare
    const broken = new ZstdWorkers('/nonexistent/zstd.node', 1);
    const workers = new ZstdWorkers(addonPath(), 1);
    await workers.close();

    // Act
    const notShared = (() => {
      try {
        void broken.compressAndHash(Buffer.alloc(8), Buffer.alloc(8));
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    const missing = (await broken.compressAndHash(shared(8), shared(1024)).catch((e: unknown) => e)) as StrongboxError;
    const closed = (await workers.compressAndHash(shared(8), shared(1024)).catch((e: unknown) => e)) as StrongboxError;
    await broken.close();

    // Assess
    expect(notShared).toBeInstanceOf(TypeError);
    expect(missing.code).toBe('WAL_CODEC_FAILED');
    expect(missing.message).toMatch(/worker stopped/);
    expect(closed.code).toBe('WAL_CODEC_FAILED');
  });
});
