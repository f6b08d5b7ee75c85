import { z } from 'zod';
import { ManifestError } from '../../errors';

/**
 * The record stored beside each archived WAL file (`<name>.json`), written only after the
 * file's bytes were stored and their SHA-256 verified. It is what makes a WAL file count
 * as archived, what the object-created event indexes into the catalog, and what
 * `catalog rebuild` reads. Pure.
 */

export const WAL_RECORD_FORMAT = 'strongbox-wal/1';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const lsnText = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);

export const walRecordSchema = z.object({
  format: z.literal(WAL_RECORD_FORMAT),
  database: z.string(),
  name: z.string(),
  kind: z.enum(['segment', 'history', 'backup', 'partial']),
  timeline: z.number().int().positive(),
  /** Segment number as a decimal string (segments, partials and backup labels). */
  segno: z.string().regex(/^\d+$/).optional(),
  /** LSN range a segment covers: [startLsn, endLsn). */
  startLsn: lsnText.optional(),
  endLsn: lsnText.optional(),
  /** The key of the stored bytes. */
  objectKey: z.string(),
  compression: z.enum(['none', 'gzip', 'zstd']),
  /** Size and SHA-256 of the file as PostgreSQL wrote it. */
  size: z.number().int().nonnegative(),
  sha256: hex64,
  /** Size and SHA-256 of the stored (compressed) object, as re-read after the upload. */
  storedSize: z.number().int().nonnegative(),
  storedSha256: hex64,
  /** System identifier from the segment header (segments and partials). */
  systemId: z.string().regex(/^\d+$/).optional(),
  archivedAt: z.string(),
  /**
   * `deferred`: `size` and `sha256` (the decoded file) were the host's word when the record
   * was written — presign mode's `complete` of a compressed object reads a prefix only (S3
   * verified `storedSha256`). The object is decoded and checked before the record is indexed
   * (usecases/wal-archive/deferred-check.ts). Absent: checked before the record was written.
   */
  decodedCheck: z.literal('deferred').optional(),
});

export type WalRecord = z.infer<typeof walRecordSchema>;

/** Parses a stored record. Throws ManifestError when it is not one. */
export function parseWalRecord(text: string, key: string): WalRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(key, 'not JSON', { cause: error });
  }
  const parsed = walRecordSchema.safeParse(json);
  if (!parsed.success) throw new ManifestError(key, `not a ${WAL_RECORD_FORMAT} record: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** The identity of a database's WAL archive: only segments of this cluster may enter it. */
export const archiveIdentitySchema = z.object({
  format: z.literal('strongbox-archive/1'),
  database: z.string(),
  systemId: z.string().regex(/^\d+$/),
  segmentSize: z.number().int().positive(),
  pgVersion: z.number().int().optional(),
  createdAt: z.string(),
});

export type ArchiveIdentity = z.infer<typeof archiveIdentitySchema>;
