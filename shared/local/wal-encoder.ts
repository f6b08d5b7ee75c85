import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { EncodedBytes, HandoffEncoder } from '../archive-endpoint/handoff';
import { sharedWalBuffers, walBuffers } from '../domain/buffer-pool';
import type { WalCompression } from '../domain/wal/keys';
import { StrongboxError } from '../errors';
import { fill, sha256Hex } from '../wal-host/codec';
import { nativeZstd } from '../wal-host/native-zstd';
import { ZstdWorker } from '../wal-host/zstd-workers';

/** An encoder that owns worker threads: closed with the endpoint. */
export interface LocalWalEncoder extends HandoffEncoder {
  close(): Promise<void>;
}

/** More workers than this gain nothing for one endpoint's pushes (the uploader sends at most a few at once). */
const MAX_WORKERS = 4;

/**
 * zstd's window for handed-over files: 2^24, a whole 16 MiB segment. With level 1's own
 * 2^19, zstd's stream buffer wraps every 640 KiB and most blocks take its slower
 * "external dictionary" path (perf: 2/3 of the match finder's time). With the whole
 * segment in the window none do: ~3 ms less CPU a segment (37.5 → 34.4 ms for real
 * segments on this project's host), the same frame size, and a frame that says its size
 * (single segment), so decoders need no more memory than before. It costs each worker
 * 16 MiB of buffer; the uploader keeps level 1's window (its 100 MB goal). Larger
 * segments are compressed with this window (wrapping, as before with 2^19).
 */
const WINDOW_LOG = 24;

/**
 * Local mode's encoder of handed-over WAL files (archive-endpoint/handoff.ts): zstd -1 on
 * worker threads, one per core up to four. Each is the WAL host's own worker
 * (zstd-workers.ts): it reads the file through the endpoint's descriptor 1 MiB at a time,
 * through SHA-256 and zstd into shared memory, hashing the frame as it is written, so a segment is read,
 * hashed and compressed once, off the thread that serves requests. `none` is read into a
 * pooled buffer and hashed on this thread. Undefined without the zstd addon: the endpoint
 * then takes no hand-off and the hosts send bodies.
 */
export function localWalEncoder(): LocalWalEncoder | undefined {
  const native = nativeZstd();
  const { path, bound } = native ?? {};
  if (path === undefined || bound === undefined) return undefined;
  const workers = Array.from({ length: Math.max(1, Math.min(MAX_WORKERS, availableParallelism())) }, () => new ZstdWorker(path, WINDOW_LOG));
  let next = 0;
  return {
    compressions: ['zstd', 'none'],
    async encode(handle: FileHandle, size: number, compression: WalCompression): Promise<EncodedBytes> {
      if (compression === 'none') return readWhole(handle, size);
      const out = sharedWalBuffers.take(bound(size));
      try {
        const done = await workers[next++ % workers.length]!.compressFile(handle.fd, size, out);
        return { stored: out.subarray(0, done.size), sha256: done.rawSha256, storedSha256: done.storedSha256, release: () => sharedWalBuffers.give(out) };
      } catch (error) {
        sharedWalBuffers.give(out);
        throw error;
      }
    },
    close: async () => void (await Promise.all(workers.map((worker) => worker.close()))),
  };
}

async function readWhole(handle: FileHandle, size: number): Promise<EncodedBytes> {
  const stored = walBuffers.take(size);
  if (!(await fill(handle, stored))) {
    walBuffers.give(stored);
    throw new StrongboxError('WAL_READ_FAILED', `the handed-over file ended before its ${size} bytes`, 'the WAL host pushes the file again');
  }
  const sha256 = sha256Hex(stored);
  return { stored, sha256, storedSha256: sha256, release: () => walBuffers.give(stored) };
}
