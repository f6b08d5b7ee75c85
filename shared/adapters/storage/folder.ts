import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError, ObjectExistsError, ObjectNotFoundError, StorageError } from '../../errors';
import { COALESCE_BYTES, CoalescingStream } from './coalesce';
import { abortedError, fileTag, fsCall, fsError, isCode, keysUnder, linkFirstOf, moveIntoPlace, pruneEmptyParents, removeIfTagged, statFile, writeNewFileSynced } from './folder-fs';
import { listTempFiles, removeTempFile, tempName, type TempWriter } from './folder-tmp';
import { HashingStream } from '../../domain/hashing-stream';
import { assertValidKey, assertValidPrefix } from './keys';
import { ObjectCreatedListeners } from './listeners';
import type { ColdArea, ConditionalDelete, ObjectCreatedListener, ObjectInfo, RangedReads, Storage, UnfinishedWrite, UnfinishedWrites, WriteOptions, WriteResult } from '../../ports/storage';

/** Where writes are staged before their rename; on the same filesystem so the rename is atomic. */
const TMP_DIR = '.tmp';
/** The cold area: `cold/<key>` holds an object moved there (retention's monthly tier); its key does not change. */
const COLD_DIR = 'cold';

/**
 * The repository folder: the storage contract on a local directory, one file per key.
 *
 * Writes stream into `<root>/.tmp/`, are fsync'd, renamed into place and the parent
 * directory fsync'd, so an object is visible whole or not at all and survives a crash
 * once the write resolved. Keys whose first name is `.tmp` are refused. Unlike S3, a
 * key cannot also be the beginning of another key plus `/` (`a` and `a/b`): a file
 * and a directory cannot share a name; such a write fails with a StorageError.
 *
 * Cold area: `moveToCold` renames `<root>/<key>` to `<root>/cold/<key>`. The key stays
 * the same for callers: reads, `head` (with `cold: true`), `list` and `delete` look in
 * the hot place first, then in the cold one, and a new write of the key removes a cold
 * copy. Keys whose first name is `cold` are therefore refused, like `.tmp`.
 *
 * Unfinished writes: a temporary file's name carries its key and its writer's pid and host
 * (folder-tmp.ts). A writer killed with SIGKILL cannot remove its own: `listUnfinished`
 * finds them and `discardUnfinished` removes them, once the sweep judged their writer gone.
 */
export class FolderStorage implements Storage, ColdArea, UnfinishedWrites, RangedReads, ConditionalDelete {
  readonly location: string;
  readonly bucket: string;
  readonly #root: string;
  readonly #tmp: string;
  readonly #cold: string;
  readonly #listeners = new ObjectCreatedListeners();
  readonly #writer: TempWriter;

  /**
   * @param root the repository folder; made absolute, created on the first write.
   * @param writer recorded in the names of this instance's temporary files; default this process on this host.
   */
  constructor(root: string, writer: TempWriter = { pid: process.pid, host: hostname() }) {
    this.#root = resolve(root);
    this.#writer = writer;
    this.#tmp = join(this.#root, TMP_DIR);
    this.#cold = join(this.#root, COLD_DIR);
    this.location = `file://${this.#root}`;
    this.bucket = this.#root;
  }

  async putStream(key: string, body: Readable, options?: WriteOptions): Promise<WriteResult> {
    const target = this.#pathOf(key);
    const signal = options?.signal;
    const temp = join(this.#tmp, tempName(key, this.#writer));
    const hasher = new HashingStream();
    let file: WriteStream | undefined;
    let fileError: unknown;
    try {
      await fsCall(`prepare ${this.#tmp}`, () => mkdir(this.#tmp, { recursive: true }));
      // flush: the data is fsync'd before close, so the rename below never publishes bytes that are not on disk.
      file = createWriteStream(temp, { flags: 'wx', flush: true });
      file.once('error', (error) => (fileError ??= error));
      await pipeline(body, new CoalescingStream(), hasher, file, signal ? { signal } : {});
      if (signal?.aborted) throw signal.reason;
      await this.#publish(key, temp, target, options?.createOnly === true);
    } catch (error) {
      if (!body.destroyed) body.destroy(); // whoever feeds the body (pg_dump's stdout) must not block on a reader that left
      // The file may still be opening (an early abort): removing it before it exists would leave it behind.
      if (file !== undefined && !file.closed) await new Promise<void>((done) => file?.once('close', () => done()));
      await rm(temp, { force: true }).catch(() => undefined);
      if (signal?.aborted) throw abortedError(key, signal);
      // The body's own error is the caller's to see as is; only our filesystem's errors are ours to translate.
      if (error instanceof ObjectExistsError) throw error;
      if (error === fileError || error instanceof StorageError) throw fsError(`write ${key}`, error);
      throw error;
    }

    const { bytes, sha256 } = hasher.digest();
    const stored = await fsCall(`stat ${key}`, () => stat(target));
    await this.#listeners.notify({ key, size: bytes, lastModified: stored.mtime, bucket: this.bucket });
    return { key, bytes, sha256 };
  }

  /**
   * As putStream, for bytes already in memory (a WAL file, a record): hashed in one call
   * and written in one, fsync'd, renamed into place, without a stream pipeline per object.
   */
  async putBytes(key: string, body: Uint8Array | string, options?: WriteOptions): Promise<WriteResult> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const target = this.#pathOf(key);
    const signal = options?.signal;
    const temp = join(this.#tmp, tempName(key, this.#writer));
    const sha256 = options?.sha256 ?? createHash('sha256').update(bytes).digest('hex');
    try {
      if (signal?.aborted) throw signal.reason;
      // fsync'd before the rename below: it never publishes bytes that are not on disk (the temporary folder made when missing).
      await fsCall(`write ${key}`, () => writeNewFileSynced(temp, bytes));
      if (signal?.aborted) throw signal.reason;
      await this.#publish(key, temp, target, options?.createOnly === true);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      if (signal?.aborted) throw abortedError(key, signal);
      throw error instanceof StorageError || error instanceof ObjectExistsError ? error : fsError(`write ${key}`, error);
    }
    const stored = await fsCall(`stat ${key}`, () => stat(target));
    await this.#listeners.notify({ key, size: bytes.length, lastModified: stored.mtime, bucket: this.bucket });
    return { key, bytes: bytes.length, sha256 };
  }

  async get(key: string): Promise<Readable> {
    const path = this.#pathOf(key);
    const handle = await fsCall(`open ${key}`, () => open(path, 'r'), key).catch((error: unknown) => {
      if (error instanceof ObjectNotFoundError) return fsCall(`open ${key}`, () => open(this.#coldPathOf(key), 'r'), key);
      throw error;
    });
    const isFile = await handle.stat().then((info) => info.isFile(), () => false);
    if (!isFile) {
      await handle.close();
      throw new ObjectNotFoundError(key); // a folder: only a prefix of other keys, not an object
    }
    // 1 MiB reads: verifying or restoring a dump is then bound by SHA-256, not by read calls.
    const source = handle.createReadStream({ highWaterMark: COALESCE_BYTES });
    const out = new PassThrough();
    source.once('error', (error) => out.destroy(fsError(`read ${key}`, error)));
    out.once('close', () => source.destroy());
    return source.pipe(out);
  }

  /** Bytes [start, end) of the object's file (hot or cold), read with positioned reads. */
  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    const handle = await fsCall(`open ${key}`, () => open(this.#pathOf(key), 'r'), key).catch((error: unknown) => {
      if (error instanceof ObjectNotFoundError) return fsCall(`open ${key}`, () => open(this.#coldPathOf(key), 'r'), key);
      throw error;
    });
    try {
      const out = Buffer.allocUnsafe(end - start);
      for (let filled = 0; filled < out.length; ) {
        const { bytesRead } = await fsCall(`read ${key}`, () => handle.read(out, filled, out.length - filled, start + filled));
        if (bytesRead === 0) throw new StorageError(`repository folder: ${key} ends before byte ${end}`, 'the object is shorter than expected (truncated or replaced): read its size again');
        filled += bytesRead;
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  async getBytes(key: string): Promise<Buffer> {
    const path = this.#pathOf(key);
    return fsCall(`read ${key}`, () => readFile(path), key).catch((error: unknown) => {
      if (error instanceof ObjectNotFoundError) return fsCall(`read ${key}`, () => readFile(this.#coldPathOf(key)), key);
      throw error;
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const hot = await statFile(key, this.#pathOf(key));
    if (hot) return { key, size: hot.size, lastModified: hot.mtime, etag: fileTag(hot) };
    const cold = await statFile(key, this.#coldPathOf(key));
    return cold ? { key, size: cold.size, lastModified: cold.mtime, cold: true, etag: fileTag(cold) } : undefined;
  }

  /**
   * Moves each object into the cold area (`cold/<key>`) with one rename: a reader finds
   * it in one place or the other at every moment. Throws ObjectNotFoundError for a key
   * that is in neither place.
   */
  async moveToCold(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const hot = this.#pathOf(key);
      const cold = this.#coldPathOf(key);
      if (!(await statFile(key, hot))) {
        if (await statFile(key, cold)) continue; // moved by an earlier run
        throw new ObjectNotFoundError(key);
      }
      await moveIntoPlace(hot, cold);
      await pruneEmptyParents(this.#root, this.#tmp, dirname(hot));
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const hot = await keysUnder(this.#root, dirKey, prefix.slice(dirKey.length), [TMP_DIR, COLD_DIR]);
    const cold = await keysUnder(this.#cold, dirKey, prefix.slice(dirKey.length), []);
    const keys = [...new Set([...hot, ...cold])].filter((key) => key.startsWith(prefix));
    // S3 lists in UTF-8 byte order; so must we (`a-c` < `a/b` < `a0`), which no directory walk gives by itself.
    keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    for (const key of keys) {
      const info = await this.head(key);
      if (info !== undefined) yield info; // deleted since the walk: S3 would not list it either
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const paths = keys.map((key) => [this.#pathOf(key), this.#coldPathOf(key)] as const);
    for (const [index, [hot, cold]] of paths.entries()) {
      await this.#removeFile(keys[index]!, hot);
      await this.#removeFile(keys[index]!, cold);
    }
  }

  onObjectCreated(listener: ObjectCreatedListener): void {
    this.#listeners.add(listener);
  }

  listUnfinished(prefix: string): AsyncIterable<UnfinishedWrite> {
    assertValidPrefix(prefix);
    return listTempFiles(this.#tmp, prefix);
  }

  async discardUnfinished(write: UnfinishedWrite): Promise<void> {
    await removeTempFile(this.#tmp, write.ref);
  }

  /**
   * Hard-links the object's file at `destination` (a new name, never overwriting): a reader
   * gets the stored bytes without a copy. Objects are never changed in place (a write renames
   * a new file over the key), so the link keeps exactly these bytes even if the key is
   * rewritten or deleted meanwhile. Returns false when a link is impossible (another
   * filesystem, a filesystem without hard links): the caller copies instead.
   *
   * @throws ObjectNotFoundError when the key holds no object; StorageError otherwise.
   */
  async linkTo(key: string, destination: string): Promise<boolean> {
    return linkFirstOf(key, [this.#pathOf(key), this.#coldPathOf(key)], destination);
  }

  #pathOf(key: string): string {
    assertValidKey(key);
    const first = key.split('/')[0];
    if (first === TMP_DIR || first === COLD_DIR) {
      throw new InputError(`storage key ${JSON.stringify(key)} is reserved`, `the repository folder keeps unfinished writes under \`${TMP_DIR}/\` and its cold area under \`${COLD_DIR}/\`; choose another key`);
    }
    return join(this.#root, ...key.split('/'));
  }

  /** Where `key` lies once moved to the cold area (the key is checked by #pathOf first). */
  #coldPathOf(key: string): string {
    this.#pathOf(key);
    return join(this.#cold, ...key.split('/'));
  }

  /**
   * Moves the hot file aside (one rename), then keeps it deleted only if it is the one `etag`
   * names; another one (written meanwhile) is linked back at its key. Objects are never
   * changed in place, so the file's inode, size and mtime name one object.
   */
  async deleteIfUnchanged(key: string, etag: string): Promise<boolean> {
    const path = this.#pathOf(key);
    await fsCall(`prepare ${this.#tmp}`, () => mkdir(this.#tmp, { recursive: true }));
    const removed = await removeIfTagged(key, path, join(this.#tmp, tempName(key, this.#writer)), etag);
    if (removed) await pruneEmptyParents(this.#root, this.#tmp, dirname(path));
    return removed;
  }

  async #removeFile(key: string, path: string): Promise<void> {
    await fsCall(`delete ${key}`, () => rm(path, { force: true }));
    await pruneEmptyParents(this.#root, this.#tmp, dirname(path));
  }

  /**
   * Makes the finished temporary file the object at `key`. A plain write renames it over
   * whatever is there (and removes a cold copy, which must not outlive it). A create-only
   * write hard-links it at the key instead: link(2) fails with EEXIST rather than replace a
   * name, so of writers racing on one key exactly one succeeds; the others get
   * ObjectExistsError. A cold copy counts as the object being there.
   */
  async #publish(key: string, temp: string, target: string, createOnly: boolean): Promise<void> {
    if (!createOnly) {
      await moveIntoPlace(temp, target);
      await this.#removeFile(key, this.#coldPathOf(key));
      return;
    }
    if (await statFile(key, this.#coldPathOf(key))) throw new ObjectExistsError(key);
    try {
      await moveIntoPlace(temp, target, link);
    } catch (error) {
      if (error instanceof StorageError && isCode(error.cause, 'EEXIST')) throw new ObjectExistsError(key, { cause: error.cause });
      throw error;
    }
    await fsCall(`remove ${temp}`, () => rm(temp, { force: true }));
  }
}
