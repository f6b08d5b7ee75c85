import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { StrongboxError } from '../errors';

/** What a {@link HashingStream} measured once its input ended. */
export interface StreamDigest {
  bytes: number;
  /** Lower-case hex SHA-256. */
  sha256: string;
}

/**
 * A pass-through stream that counts the bytes and computes their SHA-256 as they
 * flow, so a driver learns what it stored without reading it twice or buffering it.
 * Strings written to it are hashed as the UTF-8 bytes that pass on.
 */
export class HashingStream extends Transform {
  #hash: Hash = createHash('sha256');
  #bytes = 0;
  #digest: StreamDigest | undefined;

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this.#hash.update(bytes);
    this.#bytes += bytes.length;
    callback(null, bytes);
  }

  /**
   * The count and hash of everything that passed.
   *
   * @throws StrongboxError UNEXPECTED when called before the input ended (the hash would be of a prefix).
   */
  digest(): StreamDigest {
    if (this.#digest === undefined) {
      if (!this.writableFinished) throw new StrongboxError('UNEXPECTED', 'HashingStream.digest() called before the stream finished');
      this.#digest = { bytes: this.#bytes, sha256: this.#hash.digest('hex') };
    }
    return this.#digest;
  }
}

/** SHA-256 and length of bytes already in memory. */
export function digestBytes(bytes: Uint8Array): StreamDigest {
  return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}
