import { createHash } from 'node:crypto';
import { hasRangedReads, type Storage } from '../ports/storage';
import { ResumableSha256 } from '../domain/sha256-state';
import { StrongboxError } from '../errors';
import type { HashCursor } from '../ports/verify';

/**
 * The SHA-256 of one stored object, read fast enough for any size S3 allows (docs/verification.md).
 *
 * A SHA-256 of the whole is sequential: it cannot be combined from pieces. What can be
 * parallel is the reading: `concurrency` ranged GETs of `rangeBytes` each are in flight while
 * the hash takes the ranges in order (memory: about concurrency × rangeBytes). The hash is
 * OpenSSL's (fast, but its running state cannot be saved), or, when the verification may
 * have to stop and continue elsewhere (a Lambda near its deadline), ResumableSha256, whose
 * state travels in a cursor.
 */

export interface HashOptions {
  /** Ranged GETs in flight at once; default 8. 1 (or a driver without ranged reads) is one stream. */
  concurrency?: number;
  /** Bytes per ranged GET; default 16 MiB. */
  rangeBytes?: number;
  /** A hash whose state can be saved (ResumableSha256) instead of OpenSSL's. */
  resumable?: boolean;
  /** Take up a resumable hash where it stopped. */
  from?: HashCursor;
  /**
   * Asked after each range: true stops the hash. A resumable one returns its cursor; an
   * OpenSSL one has nothing to save and returns none (start the object again, resumable).
   */
  shouldPause?: () => boolean;
  /** Told the bytes hashed so far after each range (benchmarks). */
  onProgress?: (bytes: number) => void;
}

export type HashResult = { done: true; bytes: number; sha256: string } | { done: false; cursor?: HashCursor };

const MIB = 1024 * 1024;

/**
 * Hashes bytes [0, size) of `key` (size from a HEAD: a longer object is the caller's to
 * judge). Without ranged reads, or with concurrency 1, it reads one stream.
 *
 * @throws ObjectNotFoundError, StorageError (also when the object is shorter than `size`).
 */
export async function hashObject(storage: Storage, key: string, size: number, options: HashOptions = {}): Promise<HashResult> {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const rangeBytes = Math.max(MIB, options.rangeBytes ?? 16 * MIB);
  const start = options.resumable ? await resumableStart(options.from) : { hash: nativeHasher(), offset: 0 };
  const hash: Hasher = start.hash;
  let offset = start.offset;
  if (!hasRangedReads(storage) || (concurrency === 1 && !options.resumable)) {
    if (offset !== 0) throw new StrongboxError('UNEXPECTED', 'a single-stream hash cannot start in the middle of an object');
    return hashStream(storage, key, hash);
  }
  const inFlight: Array<Promise<Buffer>> = [];
  let next = offset;
  const fill = (): void => {
    while (inFlight.length < concurrency && next < size) {
      const end = Math.min(size, next + rangeBytes);
      const range = storage.getRange(key, next, end);
      range.catch(() => undefined); // awaited in order below; a later range's failure must not go unhandled meanwhile
      inFlight.push(range);
      next = end;
    }
  };
  fill();
  while (inFlight.length > 0) {
    const bytes = await inFlight.shift()!;
    hash.update(bytes);
    offset += bytes.length;
    options.onProgress?.(offset);
    if (offset < size && options.shouldPause?.()) {
      return options.resumable ? { done: false, cursor: { offset, state: (hash as ResumableSha256).save() } } : { done: false };
    }
    fill();
  }
  return { done: true, bytes: offset, sha256: hash.digest('hex') };
}

/**
 * The resumable hash to go on with: the cursor's, or a new one from byte 0 when there is no
 * cursor or its state cannot be taken up (written by another build of the hash between two
 * hops, or damaged): hashing the object again costs time, never correctness.
 */
async function resumableStart(from: HashCursor | undefined): Promise<{ hash: ResumableSha256; offset: number }> {
  if (from) {
    const resumed = await ResumableSha256.resume(from.state).catch(() => undefined);
    if (resumed && resumed.bytes === BigInt(from.offset)) return { hash: resumed, offset: from.offset };
  }
  return { hash: await ResumableSha256.create(), offset: 0 };
}

interface Hasher {
  update(data: Buffer): unknown;
  digest(encoding: 'hex'): string;
}

function nativeHasher(): Hasher {
  const hash = createHash('sha256');
  return { update: (data) => hash.update(data), digest: () => hash.digest('hex') };
}

async function hashStream(storage: Storage, key: string, hash: Hasher): Promise<HashResult> {
  let bytes = 0;
  for await (const chunk of await storage.get(key)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { done: true, bytes, sha256: hash.digest('hex') };
}
