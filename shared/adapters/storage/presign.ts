import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { StorageError } from '../../errors';
import { assertValidKey } from './keys';
import type { PresignedRequest, PresignPutOptions, WalPresigner } from '../../ports/presign';

/** Tuning of an {@link S3Presigner}. */
export interface S3PresignerOptions {
  /** The same prefix as the S3Storage of the bucket (keys are stored under `<prefix>/`). */
  prefix?: string;
  /** Lifetime of a URL; default 900 s (15 min). */
  expiresInSeconds?: number;
  /** The moment now, for `expiresAt`. */
  clock?: () => Date;
}

/**
 * Presigned S3 URLs (SigV4, query-string auth) for keys of the bucket an S3Storage with
 * the same `prefix` uses.
 *
 * The client must be built with makeS3Client: with the SDK's default checksum mode the
 * presigned PUT would also demand a CRC32 checksum header that a plain HTTP client does not
 * send. The declared SHA-256 is signed as a header (not hoisted into the query string),
 * so S3 verifies the body against it and refuses anything else (400 BadDigest) and keeps it
 * as the object's full-object checksum: the archive endpoint's `complete` reads it back
 * with a HEAD (S3Storage.headWithChecksum) instead of hashing the object again. s3rver
 * ignores the header; the test harness checks it (test/support/s3-conditional.ts).
 */
export class S3Presigner implements WalPresigner {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #keyPrefix: string;
  readonly #expiresIn: number;
  readonly #clock: () => Date;

  /** @throws InputError when the prefix is not a valid key. */
  constructor(client: S3Client, bucket: string, options: S3PresignerOptions = {}) {
    // Same rule as S3Storage: trailing slashes dropped, then `<prefix>/` before every key.
    const prefix = (options.prefix ?? '').replace(/\/+$/, '');
    if (prefix !== '') assertValidKey(prefix);
    this.#client = client;
    this.#bucket = bucket;
    this.#keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.#expiresIn = options.expiresInSeconds ?? 900;
    this.#clock = options.clock ?? (() => new Date());
  }

  async presignPut(key: string, options: PresignPutOptions = {}): Promise<PresignedRequest> {
    assertValidKey(key);
    const headers: Record<string, string> = {};
    if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    const checksum = options.sha256 !== undefined ? Buffer.from(options.sha256, 'hex').toString('base64') : undefined;
    if (checksum !== undefined) headers['x-amz-checksum-sha256'] = checksum;
    if (options.createOnly) headers['if-none-match'] = '*';
    const command = new PutObjectCommand({
      Bucket: this.#bucket,
      Key: this.#keyPrefix + key,
      ContentLength: options.contentLength,
      ChecksumSHA256: checksum,
      ...(options.createOnly ? { IfNoneMatch: '*' } : {}),
    });
    const url = await this.#sign(command, key, checksum !== undefined ? new Set(['x-amz-checksum-sha256']) : undefined);
    return { method: 'PUT', url, headers, expiresAt: this.#expiresAt() };
  }

  async presignGet(key: string): Promise<PresignedRequest> {
    assertValidKey(key);
    const url = await this.#sign(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#keyPrefix + key }), key);
    return { method: 'GET', url, headers: {}, expiresAt: this.#expiresAt() };
  }

  async #sign(command: PutObjectCommand | GetObjectCommand, key: string, unhoistableHeaders?: Set<string>): Promise<string> {
    try {
      return await getSignedUrl(this.#client, command, { expiresIn: this.#expiresIn, ...(unhoistableHeaders ? { unhoistableHeaders } : {}) });
    } catch (error) {
      throw new StorageError(
        `presigning a ${command instanceof PutObjectCommand ? 'PUT' : 'GET'} of s3://${this.#bucket}/${this.#keyPrefix}${key} failed: ${error instanceof Error ? error.message : String(error)}`,
        'check that the function has credentials (its role) and a region; presigning makes no network call',
        { cause: error },
      );
    }
  }

  #expiresAt(): string {
    return new Date(this.#clock().getTime() + this.#expiresIn * 1000).toISOString();
  }
}
