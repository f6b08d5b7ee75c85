import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { planParts } from '../../domain/part-plan';
import { ObjectExistsError, ObjectNotFoundError, ObjectTooLargeError, StorageError } from '../../errors';
import type { RetrievalState } from '../../ports/storage';
import { digestBytes, HashingStream } from '../../domain/hashing-stream';
import { assertValidKey, assertValidPrefix } from './keys';
import { ObjectCreatedListeners } from './listeners';
import { startS3Retrieval } from './s3-cold';
import { abortedError, isConditionalConflict, isPreconditionFailed, s3Error } from './s3-errors';
import { uploadMultipart } from './s3-multipart';
import { s3Tuning, type S3StorageOptions, type S3Tuning } from './s3-options';
import { abortUpload, listUploads } from './s3-unfinished';
import type { ConditionalDelete, ObjectCreatedListener, ObjectInfo, RangedReads, Storage, StoredChecksums, UnfinishedWrite, UnfinishedWrites, WriteOptions, WriteResult } from '../../ports/storage';

export { makeS3Client, type S3ClientOptions } from './s3-client';
export type { S3StorageOptions } from './s3-options';

/**
 * The storage contract on an S3 bucket (or any S3-compatible endpoint).
 *
 * `putStream` uploads with a multipart upload whose parts are sized from the write's size
 * estimate (shared/domain/part-plan.ts): at least `partSizeBytes`, larger for big objects
 * and growing when the stream outruns the estimate, so that any object up to S3's 5 TiB
 * fits its 10,000 parts. An estimate over 5 TiB is refused before anything is read
 * (OBJECT_TOO_LARGE). Memory is about part × (parts in flight + 1) per write: 40 MiB with
 * the defaults for objects up to ~45 GiB; parts in flight drop (to one) as parts grow so
 * that the buffers stay within `uploadMemoryBytes`; the largest part is 1 GiB (2 GiB of
 * buffers at worst). A body that errors or an aborted signal aborts the multipart upload
 * before the promise rejects, so no parts are left behind (nor billed).
 *
 * The client must not add aws-chunked framing to stream bodies that the endpoint stores
 * as is: build it with {@link makeS3Client}. A `createOnly` write sends `If-None-Match: *`
 * (S3's 412 becomes ObjectExistsError; its 409 for a simultaneous one is asked again).
 * SDK errors never leave this class: a missing
 * object is an ObjectNotFoundError, anything else a StorageError whose hint points at
 * credentials, the bucket name or the endpoint.
 *
 * Unfinished writes are the multipart uploads in progress under the prefix
 * (ListMultipartUploads, a page of `listPageSize`); `discardUnfinished` aborts one. A
 * writer killed with SIGKILL never aborts its own: shared/usecases/unfinished-writes.ts
 * judges which have no live writer. Needs s3:ListBucketMultipartUploads and
 * s3:AbortMultipartUpload.
 */
export class S3Storage implements Storage, UnfinishedWrites, RangedReads, ConditionalDelete, StoredChecksums {
  readonly location: string;
  readonly bucket: string;
  readonly #client: S3Client;
  readonly #keyPrefix: string;
  readonly #tuning: S3Tuning;
  readonly #listeners = new ObjectCreatedListeners();

  /** @throws InputError when the prefix is not a valid key, or StorageError when the tuning is out of S3's limits. */
  constructor(client: S3Client, bucket: string, options: S3StorageOptions = {}) {
    const prefix = (options.prefix ?? '').replace(/\/+$/, '');
    if (prefix !== '') assertValidKey(prefix);
    this.#client = client;
    this.bucket = bucket;
    this.#keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.location = `s3://${bucket}/${prefix}`;
    this.#tuning = s3Tuning(options);
  }

  async putStream(key: string, body: Readable, options?: WriteOptions): Promise<WriteResult> {
    assertValidKey(key);
    let plan;
    try {
      plan = planParts(options?.sizeEstimate ?? 0, this.#tuning.partSize, this.#tuning.partLimits);
    } catch (error) {
      body.destroy(); // nothing will read it: release its writer
      throw error;
    }
    const signal = options?.signal;
    const hasher = new HashingStream();
    let bodyError: unknown;
    // Recorded as it is emitted, to tell the body's failure from the upload's.
    body.once('error', (error) => (bodyError ??= error));
    pipeline(body, hasher, () => undefined);
    // Failing the stream the upload reads makes it stop reading, cancel its parts and abort
    // the multipart upload before it rejects: a rejection means nothing is left behind.
    const onAbort = (): void => void hasher.destroy(new StorageError(`write of ${key} was aborted`, 'write it again'));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();

    let etag: string | undefined;
    try {
      const target = { client: this.#client, bucket: this.bucket, key: this.#keyPrefix + key, contentType: options?.contentType, createOnly: options?.createOnly === true };
      etag = (await uploadMultipart(target, hasher, { plan, queueSize: this.#tuning.queueSize, memoryBytes: this.#tuning.uploadMemory, signal, onPart: this.#tuning.onPart })).etag;
    } catch (error) {
      hasher.destroy(); // the upload stopped reading: release the body rather than leave its writer blocked
      if (signal?.aborted) throw abortedError(key, signal, error);
      // The body's own error reaches the upload through the hasher. Once the upload stopped for
      // its own reason, the pipeline's clean-up errors the body too: that is not the story.
      if (bodyError !== undefined && error === bodyError) throw bodyError;
      if (error instanceof ObjectTooLargeError) throw error;
      if (options?.createOnly && isPreconditionFailed(error)) throw new ObjectExistsError(key, { cause: error });
      throw s3Error('upload', this.#describe(key), error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const { bytes, sha256 } = hasher.digest();
    // S3 returns no LastModified from a write; a HEAD per write only to learn it is not worth a round trip.
    await this.#listeners.notify({ key, size: bytes, lastModified: new Date(), bucket: this.bucket, etag });
    return { key, bytes, sha256 };
  }

  async putBytes(key: string, body: Uint8Array | string, options?: WriteOptions): Promise<WriteResult> {
    assertValidKey(key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const sha256 = options?.sha256 ?? digestBytes(bytes).sha256;
    const signal = options?.signal;
    const createOnly = options?.createOnly === true;
    let etag: string | undefined;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const command = new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.#keyPrefix + key,
          Body: bytes,
          ContentType: options?.contentType,
          ChecksumAlgorithm: 'CRC32',
          ...(createOnly ? { IfNoneMatch: '*' } : {}),
        });
        etag = (await this.#client.send(command, { abortSignal: signal })).ETag;
        break;
      } catch (error) {
        if (signal?.aborted) throw abortedError(key, signal, error);
        if (createOnly && isPreconditionFailed(error)) throw new ObjectExistsError(key, { cause: error });
        // S3's answer to two conditional writes of one key at the same instant: ask again, and one of them is then refused with 412.
        if (createOnly && isConditionalConflict(error) && attempt < 4) continue;
        throw s3Error('PutObject', this.#describe(key), error);
      }
    }
    await this.#listeners.notify({ key, size: bytes.byteLength, lastModified: new Date(), bucket: this.bucket, etag });
    return { key, bytes: bytes.byteLength, sha256 };
  }

  async get(key: string): Promise<Readable> {
    assertValidKey(key);
    const body = await this.#getBody(key);
    // Errors while the caller reads are the SDK's too: translate them on the way.
    const out = new PassThrough();
    body.once('error', (error) => out.destroy(s3Error('GetObject (reading)', this.#describe(key), error)));
    out.once('close', () => body.destroy());
    return body.pipe(out);
  }

  /** One ranged GetObject (`Range: bytes=start-(end-1)`), read whole. */
  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    assertValidKey(key);
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end > start)) throw new StorageError(`bad range [${start}, ${end}) of ${key}`, 'ask for a range of at least one byte inside the object');
    const bytes = await this.getBytes(key, `bytes=${start}-${end - 1}`);
    if (bytes.length !== end - start) throw new StorageError(`${this.#describe(key)} answered ${bytes.length} bytes for the range [${start}, ${end})`, 'the object is shorter than expected (truncated or replaced): read its size again');
    return bytes;
  }

  async getBytes(key: string, range?: string): Promise<Buffer> {
    assertValidKey(key);
    const body = await this.#getBody(key, range);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of body) chunks.push(chunk as Buffer);
    } catch (error) {
      throw s3Error('GetObject (reading)', this.#describe(key), error);
    }
    return Buffer.concat(chunks);
  }

  /**
   * Metadata of one object, or undefined. S3 answers a HEAD on a missing bucket with the
   * same bare 404 as on a missing key, so a wrong bucket also reads as undefined here.
   */
  async head(key: string): Promise<ObjectInfo | undefined> {
    return (await this.#head(key, false))?.info;
  }

  /**
   * `head` with `ChecksumMode: ENABLED`: also the full-object SHA-256 S3 verified when a
   * single PutObject carried `x-amz-checksum-sha256` (a composite of parts is not one).
   */
  async headWithChecksum(key: string): Promise<(ObjectInfo & { sha256?: string }) | undefined> {
    const found = await this.#head(key, true);
    if (!found) return undefined;
    const { info, checksum, checksumType } = found;
    const digest = checksum !== undefined && checksumType !== 'COMPOSITE' ? Buffer.from(checksum, 'base64') : undefined;
    return digest?.length === 32 ? { ...info, sha256: digest.toString('hex') } : info;
  }

  async #head(key: string, checksumMode: boolean): Promise<{ info: ObjectInfo; checksum?: string; checksumType?: string } | undefined> {
    assertValidKey(key);
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#keyPrefix + key, ...(checksumMode ? { ChecksumMode: 'ENABLED' as const } : {}) }));
      // Object Lock: S3 returns these headers only to callers allowed s3:GetObjectRetention / s3:GetObjectLegalHold.
      const retainUntil = out.ObjectLockRetainUntilDate;
      const info: ObjectInfo = {
        key,
        size: out.ContentLength ?? 0,
        lastModified: out.LastModified ?? new Date(0),
        ...(retainUntil instanceof Date && !Number.isNaN(retainUntil.getTime()) ? { retainUntil } : {}),
        ...(out.ObjectLockLegalHoldStatus === 'ON' ? { legalHold: true } : {}),
        ...(out.ETag ? { etag: out.ETag } : {}),
      };
      return { info, ...(out.ChecksumSHA256 ? { checksum: out.ChecksumSHA256 } : {}), ...(out.ChecksumType ? { checksumType: out.ChecksumType } : {}) };
    } catch (error) {
      const mapped = s3Error('HeadObject', this.#describe(key), error, key);
      if (mapped instanceof ObjectNotFoundError) return undefined;
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      const command = new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.#keyPrefix + prefix, MaxKeys: this.#tuning.listPageSize, ContinuationToken: token });
      let page;
      try {
        page = await this.#client.send(command);
      } catch (error) {
        throw s3Error('ListObjectsV2', this.#describe(prefix), error);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { key: object.Key.slice(this.#keyPrefix.length), size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(keys: readonly string[]): Promise<void> {
    keys.forEach(assertValidKey);
    for (let start = 0; start < keys.length; start += this.#tuning.deleteBatchSize) {
      const batch = keys.slice(start, start + this.#tuning.deleteBatchSize);
      let out;
      try {
        const objects = batch.map((key) => ({ Key: this.#keyPrefix + key }));
        out = await this.#client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } }));
      } catch (error) {
        throw s3Error('DeleteObjects', this.#describe(batch[0] ?? ''), error);
      }
      const failed = out.Errors ?? [];
      if (failed.length > 0) {
        const detail = failed.slice(0, 5).map((e) => `${e.Key ?? '?'}: ${e.Code ?? 'error'} ${e.Message ?? ''}`.trim());
        throw new StorageError(
          `S3 DeleteObjects in s3://${this.bucket} failed for ${failed.length} key(s): ${detail.join('; ')}`,
          'check that the credentials allow s3:DeleteObject on the bucket (and no Object Lock retention holds these keys), then delete again',
        );
      }
    }
  }

  onObjectCreated(listener: ObjectCreatedListener): void {
    this.#listeners.add(listener);
  }

  /** DeleteObject with `If-Match: <etag>`: 412 (another object) or 404 (none) answer false. */
  async deleteIfUnchanged(key: string, etag: string): Promise<boolean> {
    assertValidKey(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#keyPrefix + key, IfMatch: etag }));
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (isPreconditionFailed(error) || status === 404 || isConditionalConflict(error)) return false;
      throw s3Error('DeleteObject', this.#describe(key), error);
    }
  }

  listUnfinished(prefix: string): AsyncIterable<UnfinishedWrite> {
    assertValidPrefix(prefix);
    return listUploads({ client: this.#client, bucket: this.bucket, keyPrefix: this.#keyPrefix }, prefix, this.#tuning.listPageSize);
  }

  async discardUnfinished(write: UnfinishedWrite): Promise<void> {
    if (write.key !== undefined) assertValidKey(write.key);
    await abortUpload({ client: this.#client, bucket: this.bucket, keyPrefix: this.#keyPrefix }, write);
  }

  async #getBody(key: string, range?: string): Promise<Readable> {
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.#keyPrefix + key, ...(range ? { Range: range } : {}) }));
      return out.Body as Readable;
    } catch (error) {
      throw s3Error('GetObject', this.#describe(key), error, key);
    }
  }

  /**
   * Retrieval from cold storage (S3 GLACIER / DEEP_ARCHIVE): starts an S3 restore request of
   * `key` for `days` days unless a copy is there or on its way (see ColdRetrieval).
   */
  async startRetrieval(key: string, options: { days: number }): Promise<{ state: RetrievalState; storageClass: string }> {
    assertValidKey(key);
    return startS3Retrieval(this.#client, this.bucket, this.#keyPrefix + key, options.days, this.#describe(key));
  }

  #describe(key: string): string {
    return `s3://${this.bucket}/${this.#keyPrefix}${key}`;
  }
}
