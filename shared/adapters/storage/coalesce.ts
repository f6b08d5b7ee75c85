import { Transform, type TransformCallback } from 'node:stream';

/** 1 MiB: large enough that per-write costs vanish, small enough to keep memory bounded. */
export const COALESCE_BYTES = 1 << 20;

/**
 * Gathers small chunks (a pipe delivers ~10–64 KiB at a time) into writes of about
 * `targetBytes`, so that hashing and the file system see a few large calls instead of tens
 * of thousands of small ones. Holds at most `targetBytes` plus one chunk; the last,
 * shorter batch is pushed at the end.
 */
export class CoalescingStream extends Transform {
  #parts: Buffer[] = [];
  #size = 0;

  constructor(private readonly targetBytes = COALESCE_BYTES) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#parts.push(chunk);
    this.#size += chunk.length;
    if (this.#size >= this.targetBytes) this.#release();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#size > 0) this.#release();
    callback();
  }

  #release(): void {
    this.push(this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#size));
    this.#parts = [];
    this.#size = 0;
  }
}
