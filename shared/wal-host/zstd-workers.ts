import { Worker } from 'node:worker_threads';
import { StrongboxError } from '../errors';
import { ZSTD_LEVEL } from './native-zstd';

/**
 * The uploader's compression and hashing off its main thread: a few worker threads, each
 * with the zstd addon and its own context, take a segment (a view of shared memory: no
 * copy either way) and answer the frame's length and the SHA-256 of the segment and of
 * the frame. The main thread meanwhile reads, writes and talks HTTP for the other pushes
 * in flight; measured in docs/benchmarks.md (the uploader's main thread was the
 * bottleneck of a backlog: ~58 of its ~70 ms per segment were zstd and SHA-256).
 */

/** What a worker answers for one segment. */
export interface CompressedAndHashed {
  /** Bytes of the zstd frame written at the start of `out`. */
  size: number;
  rawSha256: string;
  storedSha256: string;
}

interface Request {
  id: number;
  raw: Uint8Array;
  out: Uint8Array;
}

type Answer = { id: number; size: number; rawSha256: string; storedSha256: string } | { id: number; error: string } | { ready: true };

/** The worker's code (CommonJS, evaluated): the addon's path and the level come in workerData; frames as native-zstd.ts writes them. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const zstd = require(workerData.addon);
parentPort.postMessage({ ready: true });
let cctx;
parentPort.on('message', ({ id, raw, out }) => {
  try {
    if (!cctx) {
      cctx = new zstd.CCtx();
      cctx.setParameter(zstd.CParameter.compressionLevel, workerData.level);
      cctx.setParameter(zstd.CParameter.checksumFlag, 1);
    }
    const rawSha256 = createHash('sha256').update(raw).digest('hex');
    const size = cctx.compress2(out, raw);
    const storedSha256 = createHash('sha256').update(out.subarray(0, size)).digest('hex');
    parentPort.postMessage({ id, size, rawSha256, storedSha256 });
  } catch (error) {
    cctx = undefined;
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

interface Slot {
  worker: Worker;
  busy: number;
  /** The worker loaded the addon and takes requests at once. */
  ready: boolean;
}

/** A pool of compression workers; requests go to the least busy one. */
export class ZstdWorkers {
  readonly #slots: Slot[] = [];
  readonly #waiting = new Map<number, { resolve: (answer: CompressedAndHashed) => void; reject: (error: Error) => void; slot: Slot }>();
  #serial = 0;
  #closed = false;

  /** `addon`: the path of zstd-napi's compiled binding; `count` workers, started on first use. */
  constructor(
    private readonly addon: string,
    private readonly count: number,
  ) {}

  /**
   * zstd -1 of `raw` into `out` (at least the compress bound), with both SHA-256s. Both
   * must be views of SharedArrayBuffers (see BufferPool's shared mode). Throws
   * StrongboxError WAL_CODEC_FAILED when the worker fails or dies.
   */
  compressAndHash(raw: Uint8Array, out: Uint8Array): Promise<CompressedAndHashed> {
    if (!(raw.buffer instanceof SharedArrayBuffer) || !(out.buffer instanceof SharedArrayBuffer)) throw new TypeError('compressAndHash needs views of SharedArrayBuffers');
    if (this.#closed) return Promise.reject(failed('the compression workers are closed'));
    const slot = this.#pick();
    const id = ++this.#serial;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject, slot });
      if (slot.busy++ === 0) slot.worker.ref();
      slot.worker.postMessage({ id, raw, out } satisfies Request);
    });
  }

  /**
   * True once a worker has started (loaded the addon). Until then a caller may as well
   * compress on its own thread: a worker's start-up (~100 ms on two busy cores) would
   * otherwise delay the first file, the one PostgreSQL waits for.
   */
  get ready(): boolean {
    return this.#slots.some((slot) => slot.ready);
  }

  /** Starts every worker now (their start-up, ~50 ms each, then overlaps the caller's own). */
  warm(): void {
    while (!this.#closed && this.#slots.length < this.count) this.#start();
  }

  /** Ends the workers (requests in flight fail). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  #pick(): Slot {
    const idle = this.#slots.find((slot) => slot.busy === 0);
    if (idle) return idle;
    if (this.#slots.length < this.count) return this.#start();
    return this.#slots.reduce((best, slot) => (slot.busy < best.busy ? slot : best));
  }

  #start(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon: this.addon, level: ZSTD_LEVEL } });
    const slot: Slot = { worker, busy: 0, ready: false };
    this.#slots.push(slot);
    // Idle workers must not keep the uploader alive.
    worker.unref();
    worker.on('message', (answer: Answer) => {
      if ('ready' in answer) return void (slot.ready = true);
      const waiter = this.#waiting.get(answer.id);
      if (!waiter) return;
      this.#waiting.delete(answer.id);
      if (--slot.busy === 0) worker.unref();
      if ('error' in answer) waiter.reject(failed(`zstd (worker) failed: ${answer.error}`));
      else waiter.resolve({ size: answer.size, rawSha256: answer.rawSha256, storedSha256: answer.storedSha256 });
    });
    const lost = (why: string) => {
      const index = this.#slots.indexOf(slot);
      if (index >= 0) this.#slots.splice(index, 1);
      for (const [id, waiter] of this.#waiting) {
        if (waiter.slot !== slot) continue;
        this.#waiting.delete(id);
        waiter.reject(failed(`the compression worker stopped (${why})`));
      }
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit ${code}`));
    return slot;
  }
}

function failed(message: string): StrongboxError {
  return new StrongboxError('WAL_CODEC_FAILED', message, 'set STRONGBOX_ZSTD_NATIVE=off to compress with the zstd command instead; the push is retried');
}
