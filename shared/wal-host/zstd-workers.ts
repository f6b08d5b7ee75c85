import { Worker } from 'node:worker_threads';
import { StrongboxError } from '../errors';
import { ZSTD_LEVEL } from './native-zstd';

/**
 * The uploader's compression and hashing off its main thread (and local mode's endpoint's):
 * a worker thread with the zstd addon and its own context reads each WAL file itself (through
 * the caller's descriptor, 1 MiB at a time) into SHA-256 and zstd, the frame into `out` (shared
 * memory), hashed as written. With level 1's window no buffer holds the whole segment: a push
 * costs its frame (~35 % of a segment) and a chunk, which keeps the uploader under 100 MB
 * with 16 MiB segments (docs/benchmarks.md), its main thread free for HTTP meanwhile.
 */

/** What the worker answers for one file. */
export interface CompressedAndHashed {
  /** Bytes of the zstd frame written at the start of `out`. */
  size: number;
  rawSha256: string;
  storedSha256: string;
}

interface Request {
  id: number;
  fd: number;
  size: number;
  out: Uint8Array;
}

type Answer = { id: number; size: number; rawSha256: string; storedSha256: string } | { id: number; error: string; read: boolean };

/**
 * The worker's code (CommonJS, evaluated): the addon's path and the level come in
 * workerData; frames as native-zstd.ts writes them (level 1, content size, XXH64).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const zstd = require(workerData.addon);
const CHUNK = 1 << 20;
const chunk = Buffer.allocUnsafe(CHUNK);
const none = Buffer.alloc(0);
let cctx;
parentPort.on('message', ({ id, fd, size, out }) => {
  let reading = false;
  try {
    if (!cctx) {
      cctx = new zstd.CCtx();
      cctx.setParameter(zstd.CParameter.compressionLevel, workerData.level);
      cctx.setParameter(zstd.CParameter.checksumFlag, 1);
      if (workerData.windowLog) cctx.setParameter(zstd.CParameter.windowLog, workerData.windowLog);
    }
    cctx.setPledgedSrcSize(size);
    const raw = createHash('sha256');
    const frame = createHash('sha256');
    let done = 0, written = 0;
    const step = (src, op) => {
      const [left, produced, consumed] = cctx.compressStream2(out.subarray(written), src, op);
      if (produced === 0 && consumed === 0 && left > 0) throw new Error('the output buffer is too small for the frame');
      if (produced > 0) frame.update(out.subarray(written, written + produced));
      written += produced;
      return [left, consumed];
    };
    while (done < size) {
      reading = true;
      const n = readSync(fd, chunk, 0, Math.min(CHUNK, size - done), done);
      reading = false;
      if (n === 0) throw Object.assign(new Error('the file ended early'), { read: true });
      let src = chunk.subarray(0, n);
      raw.update(src);
      while (src.length > 0) src = src.subarray(step(src, zstd.EndDirective.continue)[1]);
      done += n;
    }
    while (step(none, zstd.EndDirective.end)[0] > 0);
    parentPort.postMessage({ id, size: written, rawSha256: raw.digest('hex'), storedSha256: frame.digest('hex') });
  } catch (error) {
    cctx = undefined;
    parentPort.postMessage({ id, error: String((error && error.message) || error), read: reading || (error && error.read) === true });
  }
});
`;

/** One compression worker thread (restarted at the next request when it died); requests queue in its port. */
export class ZstdWorker {
  #worker: Worker | undefined;
  readonly #waiting = new Map<number, { resolve: (answer: CompressedAndHashed) => void; reject: (error: Error) => void }>();
  #serial = 0;
  #closed = false;

  /** `addon`: the path of zstd-napi's compiled binding (the worker starts on first use); `windowLog`: zstd's, level 1's 19 by default (a frame's window is at most its size). */
  constructor(private readonly addon: string, private readonly windowLog?: number) {}

  /**
   * Reads `size` bytes of the open file `fd` from its start, and writes zstd -1 of them into
   * `out` (a view of a SharedArrayBuffer, at least the compress bound), with both SHA-256s.
   * The caller keeps `fd` open until this settles. Throws StrongboxError WAL_READ_FAILED
   * when the read failed or the file ended early, WAL_CODEC_FAILED when zstd or the worker failed.
   */
  compressFile(fd: number, size: number, out: Uint8Array): Promise<CompressedAndHashed> {
    if (!(out.buffer instanceof SharedArrayBuffer)) throw new TypeError('compressFile needs a view of a SharedArrayBuffer');
    if (this.#closed) return Promise.reject(failed('the compression worker is closed'));
    const worker = this.warm();
    const id = ++this.#serial;
    return new Promise((resolve, reject) => {
      if (this.#waiting.size === 0) worker.ref();
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ id, fd, size, out } satisfies Request);
    });
  }

  /** Starts the worker now (its start-up, ~50 ms, then overlaps the caller's own). */
  warm(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon: this.addon, level: ZSTD_LEVEL, windowLog: this.windowLog } });
    this.#worker = worker;
    // An idle worker must not keep the uploader alive.
    worker.unref();
    worker.on('message', (answer: Answer) => {
      const waiter = this.#waiting.get(answer.id);
      if (!waiter) return;
      this.#waiting.delete(answer.id);
      if (this.#waiting.size === 0) worker.unref();
      if (!('error' in answer)) return waiter.resolve({ size: answer.size, rawSha256: answer.rawSha256, storedSha256: answer.storedSha256 });
      waiter.reject(answer.read ? new StrongboxError('WAL_READ_FAILED', `reading the WAL file failed: ${answer.error}`, 'the postgres OS user must be able to read pg_wal, and nothing else may write there') : failed(`zstd (worker) failed: ${answer.error}`));
    });
    const lost = (why: string) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const waiter of this.#waiting.values()) waiter.reject(failed(`the compression worker stopped (${why})`));
      this.#waiting.clear();
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit ${code}`));
    return worker;
  }

  /** Ends the worker (requests in flight fail). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker?.terminate();
  }
}

function failed(message: string): StrongboxError {
  return new StrongboxError('WAL_CODEC_FAILED', message, 'the push is retried; if it persists, set fastPaths.worker to false in the host config');
}
