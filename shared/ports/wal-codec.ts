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

/** Reads stored WAL objects as their compression says (shared/adapters/wal-codec binds it). */
export interface WalCodec {
  /**
   * Reads `stored` once: hashes it, decodes it as `compression` says and hashes the result,
   * keeping its first bytes; stops past `maxSize` decoded bytes.
   *
   * @throws WalContentInvalidError when the bytes do not decode or decode to more than
   *   `maxSize`; what `stored` throws as it is.
   */
  inspect(stored: Readable, compression: WalCompression, maxSize: number): Promise<WalContent>;
}
