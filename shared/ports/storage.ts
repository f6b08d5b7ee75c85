import type { Readable } from 'node:stream';

/** What storage knows of one stored object. */
export interface ObjectInfo {
  key: string;
  /** Size in bytes of the stored object. */
  size: number;
  lastModified: Date;
  /**
   * Object Lock (S3, from `head` only): the object cannot be deleted before this date.
   * Absent when the object has no retention (or the driver has no Object Lock).
   */
  retainUntil?: Date;
  /** Object Lock legal hold (S3, from `head` only): no deletion until it is lifted. */
  legalHold?: boolean;
  /** The repository folder's cold area holds it (from `head` and `list`); S3 says nothing here. */
  cold?: boolean;
  /**
   * What identifies this very object (from `head`): S3's ETag, the folder file's inode, size
   * and mtime. For `deleteIfUnchanged`; absent when the driver cannot tell.
   */
  etag?: string;
}

/** The outcome of a completed write: what was stored, measured while it streamed. */
export interface WriteResult {
  key: string;
  bytes: number;
  /** Lower-case hex SHA-256 of the bytes as stored. */
  sha256: string;
}

export interface WriteOptions {
  contentType?: string;
  /** Abort the write: nothing becomes visible at the key, the promise rejects. */
  signal?: AbortSignal;
  /**
   * `putStream` only: about how many bytes the body will bring (e.g. the database's size on
   * disk). The S3 driver sizes its parts from it and refuses an estimate over 5 TiB with
   * ObjectTooLargeError before reading anything; the folder driver ignores it. Absent: the
   * S3 driver starts with its smallest parts and grows them as the stream goes on.
   */
  sizeEstimate?: number;
  /**
   * Create only: the write succeeds only if no object is at the key, decided by storage
   * itself at the moment the object becomes visible (S3: `If-None-Match: *` on PutObject and
   * CompleteMultipartUpload; the folder: a hard link of the finished temporary file, which
   * never replaces a name). Otherwise nothing is stored, the existing object is unchanged,
   * and the write rejects with ObjectExistsError. Of writers racing on one new key, exactly
   * one succeeds — across processes and hosts, not only within one.
   */
  createOnly?: boolean;
  /**
   * `putBytes` only: the SHA-256 (hex) of these very bytes, when the caller has just computed
   * it (the archive endpoint verified them); the driver reports it instead of hashing them again.
   */
  sha256?: string;
}

/** Called after each completed write; local mode turns it into an S3 ObjectCreated event. */
export type ObjectCreatedListener = (info: ObjectInfo & { bucket: string; etag?: string }) => Promise<void> | void;

/**
 * The storage contract shared by every driver (S3 and the repository folder).
 * Keys are relative, `/`-separated, never start with `/`, never contain `..` or `\`.
 *
 * - Writes are atomic: the object is visible whole or not at all. If the body stream
 *   errors, the signal aborts, or the driver fails, nothing is visible at the key
 *   (a multipart upload is aborted, a temporary file is removed) and the promise
 *   rejects with the body's error or a StorageError.
 * - A write to an existing key replaces it whole, unless the write is `createOnly`: then it
 *   rejects with ObjectExistsError and the stored object stays as it was.
 * - Reads of a missing key reject with ObjectNotFoundError; `head` returns undefined.
 * - `delete` of missing keys succeeds (idempotent).
 * - `list` yields every object under the prefix in lexicographic key order.
 * - Every other failure is a StorageError with a hint; SDK errors never leak.
 */
export interface Storage {
  /** Where this storage points, for humans: `s3://bucket/prefix` or `file:///path`. */
  readonly location: string;
  /** The bucket name put into ObjectCreated events (the folder's path for the folder driver). */
  readonly bucket: string;

  /**
   * Streams `body` into `key`, hashing it on the way. Memory is bounded by the driver's part
   * size. Throws ObjectTooLargeError (OBJECT_TOO_LARGE) when the object cannot be one object
   * of this storage (S3: over 5 TiB), from the estimate before anything is read, or when the
   * stream passes the limit (nothing is then stored).
   */
  putStream(key: string, body: Readable, options?: WriteOptions): Promise<WriteResult>;
  /** Writes a small object whole. */
  putBytes(key: string, body: Uint8Array | string, options?: WriteOptions): Promise<WriteResult>;
  /** Reads an object as a stream. Throws ObjectNotFoundError. */
  get(key: string): Promise<Readable>;
  /** Reads a small object whole. Throws ObjectNotFoundError. */
  getBytes(key: string): Promise<Buffer>;
  /** Metadata of one object, or undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object under `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deletes the keys; missing keys are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Registers a listener for completed writes (local event emulation). */
  onObjectCreated(listener: ObjectCreatedListener): void;
}

/**
 * A driver with a local cold area (the repository folder's `cold/`). Moving keeps the
 * key: every read, `head`, `list` and `delete` finds the object wherever it lies.
 */
export interface ColdArea {
  /**
   * Moves the objects into the cold area, each atomically (a reader finds it in one place
   * or the other at every moment). Keys already there are left as they are. Throws
   * ObjectNotFoundError for a key in neither place, StorageError otherwise.
   */
  moveToCold(keys: readonly string[]): Promise<void>;
}

/** True when `storage` has a local cold area to move objects into. */
export function hasColdArea(storage: object): storage is ColdArea {
  return typeof (storage as Partial<ColdArea>).moveToCold === 'function';
}

/** True when Object Lock forbids deleting the object at `now` (a retention date ahead, or a legal hold). */
export function isLocked(info: ObjectInfo | undefined, now: Date): boolean {
  return info !== undefined && (info.legalHold === true || (info.retainUntil !== undefined && info.retainUntil.getTime() > now.getTime()));
}

/**
 * A write that began and never completed: a temporary file in the repository folder's
 * `.tmp/`, or an S3 multipart upload. A writer killed with SIGKILL leaves one behind (its
 * own clean-up never ran); nothing ever completes it.
 */
export interface UnfinishedWrite {
  /** The driver's handle for `discardUnfinished`: the temporary file's name, or the upload id. */
  ref: string;
  /** The key it was writing, when the write says (absent: a temporary file named before writes carried their key). */
  key?: string;
  /** The process that wrote it, when the driver records it (the repository folder: pid and host). */
  writer?: { pid: number; host: string };
  /** When its last byte was written (the temporary file's mtime); absent when the driver cannot tell (S3). */
  lastWriteAt?: Date;
  /** When it began (S3: the upload's Initiated), when the driver knows. */
  startedAt?: Date;
  /** Bytes written so far, when the driver knows (the temporary file's size). */
  bytes?: number;
}

/**
 * A driver that can list and discard its unfinished writes (both drivers). Whether a
 * write's writer is still alive is not the driver's to judge: see
 * shared/usecases/unfinished-writes.ts.
 */
export interface UnfinishedWrites {
  /**
   * The unfinished writes under `prefix` (of their key), in no particular order, read page
   * by page (memory does not grow with their number). Writes that do not say their key are
   * listed only for the empty prefix. Throws StorageError.
   */
  listUnfinished(prefix: string): AsyncIterable<UnfinishedWrite>;
  /**
   * Discards one unfinished write (removes the temporary file, aborts the multipart upload
   * and its parts). One already gone is not an error. Its writer, if it were still alive,
   * would fail at its next step (never publish a partial object). Throws StorageError.
   */
  discardUnfinished(write: UnfinishedWrite): Promise<void>;
}

/** True when `storage` can list and discard its unfinished writes. */
export function hasUnfinishedWrites(storage: object): storage is UnfinishedWrites {
  const candidate = storage as Partial<UnfinishedWrites>;
  return typeof candidate.listUnfinished === 'function' && typeof candidate.discardUnfinished === 'function';
}

/**
 * A driver that reads byte ranges of an object (both drivers): verification reads several
 * ranges at once and hashes them in order (shared/usecases/verify-object.ts).
 */
export interface RangedReads {
  /**
   * Bytes [start, end) of the object, whole in memory (keep ranges to a few MiB).
   * Throws ObjectNotFoundError, or StorageError when the object is shorter than `end`.
   */
  getRange(key: string, start: number, end: number): Promise<Buffer>;
}

/** True when `storage` can read byte ranges. */
export function hasRangedReads(storage: object): storage is RangedReads {
  return typeof (storage as Partial<RangedReads>).getRange === 'function';
}

/**
 * A driver whose storage verified an object's SHA-256 when it was written and says so (S3:
 * HeadObject with `ChecksumMode: ENABLED` returns the full-object `ChecksumSHA256` of a
 * single PutObject sent with `x-amz-checksum-sha256`, which S3 checked against the body).
 */
export interface StoredChecksums {
  /**
   * `head`, plus `sha256` (lower-case hex) when storage holds a full-object SHA-256 for
   * the object; absent when it was stored without one (or as a composite of parts).
   * Undefined for a missing key; throws StorageError.
   */
  headWithChecksum(key: string): Promise<(ObjectInfo & { sha256?: string }) | undefined>;
}

/** True when `storage` can tell the SHA-256 it verified on upload. */
export function hasStoredChecksums(storage: object): storage is StoredChecksums {
  return typeof (storage as Partial<StoredChecksums>).headWithChecksum === 'function';
}

/** A driver that deletes an object only if it is still the one seen (both drivers). */
export interface ConditionalDelete {
  /**
   * Deletes `key` only if it still holds the object `head` described with `etag` (S3:
   * DeleteObject `If-Match: <ETag>`): true when it was deleted, false when the key now holds
   * another object or none. Throws StorageError.
   */
  deleteIfUnchanged(key: string, etag: string): Promise<boolean>;
}

/** True when `storage` can delete an object only if it is unchanged. */
export function hasConditionalDelete(storage: object): storage is ConditionalDelete {
  return typeof (storage as Partial<ConditionalDelete>).deleteIfUnchanged === 'function';
}

/** Where a retrieval stands. */
export type RetrievalState = 'started' | 'in-progress' | 'ready';

/** What a storage driver with a cold tier offers (S3); the repository folder has none. */
export interface ColdRetrieval {
  /**
   * Asks for a temporary readable copy of `key` for `days` days (S3 RestoreObject), unless
   * one is already on its way or there.
   *
   * @throws StorageError when the request fails.
   */
  startRetrieval(key: string, options: { days: number }): Promise<{ state: RetrievalState; storageClass: string }>;
}
