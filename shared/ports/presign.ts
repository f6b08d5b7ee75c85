/** A request the client makes itself, straight to S3: the URL and the headers it must send as they are. */
export interface PresignedRequest {
  method: 'PUT' | 'GET';
  url: string;
  /** Headers covered by the signature: send exactly these (besides Host), or S3 refuses the request. */
  headers: Record<string, string>;
  /** When the URL stops working. */
  expiresAt: string;
}

/** What a presigned PUT pins down: S3 refuses a body of another length or (real S3) another SHA-256. */
export interface PresignPutOptions {
  /** Exact length of the body. */
  contentLength?: number;
  /** Lower-case hex SHA-256 of the body; S3 checks it on arrival (x-amz-checksum-sha256). */
  sha256?: string;
  /**
   * Create only: the request carries `If-None-Match: *` as a signed header, so S3 refuses it
   * (412 Precondition Failed) when the key already holds an object, and the client cannot
   * drop the header without breaking the signature.
   */
  createOnly?: boolean;
}

/**
 * Hands out URLs that let a client move one object's bytes without credentials of its
 * own (the archive endpoint in AWS: a 16 MB WAL segment is over Lambda's payload limit).
 * Keys are storage keys, as {@link Storage} takes them.
 */
export interface WalPresigner {
  /** A PUT of `key`. Throws InputError for an invalid key, StorageError when signing fails. */
  presignPut(key: string, options?: PresignPutOptions): Promise<PresignedRequest>;
  /** A GET of `key` (whether it exists is not checked). Throws as presignPut. */
  presignGet(key: string): Promise<PresignedRequest>;
}
