import type { Readable } from 'node:stream';
import type { WalCompression } from '../domain/wal/keys';

/**
 * What a stored WAL object really is, measured from its bytes and never taken from a
 * declaration: the archive endpoint compares this with what the sender declared before
 * anything is recorded (docs/wal.md, "What the endpoint checks").
 */
export interface WalContent {
  /** Bytes and SHA-256 of the object as stored (compressed). */
  storedBytes: number;
  storedSha256: string;
  /** Bytes and SHA-256 of the file once decoded, as PostgreSQL wrote it. */
  size: number;
  sha256: string;
  /** The first `SEGMENT_HEADER_SIZE` decoded bytes (fewer when the file is shorter): a segment's long page header. */
  head: Buffer;
}

/**
 * How much of a stored (compressed) WAL object presign mode's `complete` reads to check the
 * segment's first page header without reading the object whole (docs/wal.md, "Presign
 * mode"). A zstd block decodes to at most 128 KiB and is stored in at most 128 KiB + 3
 * bytes, after a frame header of at most 18: any zstd stream's first 40 decoded bytes lie in
 * its first 131,093 bytes. A deflate (gzip) stream yields output as it goes, and its stored
 * blocks hold at most 64 KiB. 256 KiB leaves room for both; an object this size or smaller
 * is read whole anyway.
 */
export const HEAD_PREFIX_BYTES = 256 * 1024;

/** Reads stored WAL objects as their compression says (shared/adapters/wal-codec binds it). */
export interface WalCodec {
  /**
   * Reads `stored` once: hashes it, decodes it as `compression` says and hashes the result,
   * keeping its first bytes; stops past `maxSize` decoded bytes.
   *
   * @throws WalContentInvalidError when the bytes do not decode or decode to more than
   *   `maxSize`; what `stored` throws as it is.
   */
  inspect(stored: Readable | Buffer, compression: WalCompression, maxSize: number): Promise<WalContent>;
  /**
   * Decodes `prefix`, the first bytes of a stored object, as `compression` says, until
   * `want` decoded bytes are out, and returns them; undefined when the prefix does not
   * decode to that many (bytes that are not that compression, or a stream this prefix is
   * too short for): the caller then reads the object whole, which decides. Never throws for
   * the content.
   */
  decodeHead(prefix: Buffer, compression: WalCompression, want: number): Promise<Buffer | undefined>;
}
