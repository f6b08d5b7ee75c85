/**
 * Reusable buffers for whole WAL files. A fresh 16 MiB buffer costs more in page faults
 * (~20 ms here, in a VM) than reading and hashing the segment it holds; the uploader and
 * the archive endpoint handle thousands of segments, so each keeps the buffers of
 * finished pushes for the next ones.
 */

const STEP = 4 << 20;

/** A free list of large buffers, for one process (best fit). */
export class BufferPool {
  readonly #free: Buffer[] = [];

  /**
   * `keep`: at most this many free buffers are held (the rest go to the garbage collector).
   * `shared`: buffers over SharedArrayBuffers, which worker threads see without a copy.
   */
  constructor(
    private readonly keep = 8,
    private readonly shared = false,
  ) {}

  /**
   * A buffer of exactly `size` bytes (a view of a pooled one when one is large enough),
   * with unspecified contents. Give it back with {@link give} once nothing reads it anymore.
   */
  take(size: number): Buffer {
    if (size < STEP / 4 && !this.shared) return Buffer.allocUnsafe(size); // history files and labels: not worth pooling
    let best = -1;
    this.#free.forEach((buffer, index) => {
      if (buffer.length >= size && (best < 0 || buffer.length < this.#free[best]!.length)) best = index;
    });
    if (best >= 0) return this.#free.splice(best, 1)[0]!.subarray(0, size);
    // Capacity in whole steps: compressed segments differ by a few bytes and should fit the same buffers.
    const capacity = Math.max(1, Math.ceil(size / STEP)) * STEP;
    return (this.shared ? Buffer.from(new SharedArrayBuffer(capacity)) : Buffer.allocUnsafeSlow(capacity)).subarray(0, size);
  }

  /** Returns a buffer from {@link take} to the pool. Never give one that is still being read or sent. */
  give(buffer: Buffer): void {
    if (this.#free.length >= this.keep || buffer.buffer.byteLength < STEP) return;
    this.#free.push(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.buffer.byteLength - buffer.byteOffset));
  }
}

/** The pool of this process (wal-push, the uploader and the endpoint each are one process). */
export const walBuffers = new BufferPool();

/** The uploader's buffers that its compression workers read and write. */
export const sharedWalBuffers = new BufferPool(8, true);
