import { z } from 'zod';
import { walFileRef, type WalFileRef } from '../../domain/wal/file-ref';
import { assertSegmentSize, type WalFileKind } from '../../domain/wal/names';
import { InputError } from '../../errors';

/**
 * The declaration of one WAL file to archive (docs/wal.md, "Protocol v1"): what the file
 * is as PostgreSQL wrote it, and what the stored (compressed) object must be. Validated
 * here, once, for every transport.
 */

/** Headroom a compressor may add over the original size (zstd and gzip add far less). */
export const COMPRESSION_HEADROOM_BYTES = 1024 * 1024;
/** History files and backup labels are a few hundred bytes; anything near this is not one. */
export const MAX_SMALL_FILE_BYTES = 1024 * 1024;
const MAX_SYSTEM_ID = (1n << 64n) - 1n;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');

/** The wire shape; unknown keys are dropped so that a newer client's extra fields do not break an older endpoint. */
export const walDeclarationSchema = z.object({
  size: z.number().int().nonnegative(),
  sha256: hex64,
  storedSize: z.number().int().nonnegative(),
  storedSha256: hex64,
  compression: z.enum(['none', 'gzip', 'zstd']),
  systemId: z.string().regex(/^\d{1,20}$/, 'must be the decimal system identifier').optional(),
  segmentSize: z.number().int().positive().optional(),
  pgVersion: z.number().int().min(10).max(99).optional(),
});

/** A validated declaration. */
export type WalDeclaration = z.infer<typeof walDeclarationSchema>;

/** The kind of a WAL file name, without the segment-size bound (the size may not be known yet). */
export function walKindOf(name: string): WalFileKind {
  if (name.endsWith('.history')) return 'history';
  if (name.endsWith('.backup')) return 'backup';
  if (name.endsWith('.partial')) return 'partial';
  return 'segment';
}

/**
 * Checks the database name and the WAL file name of a request, once: the typed value is
 * what every floor below takes (issue 19 point 3).
 *
 * @throws InputError (INPUT_INVALID) for a database name Strongbox cannot use, StrongboxError
 *   BAD_WAL_NAME for anything that is not a WAL file name (paths, lower-case hex, `%`).
 */
export function assertWalTarget(database: string, name: string): WalFileRef {
  return walFileRef(database, name);
}

/** A WAL file and its declaration, each validated once, at the edge. */
export interface DeclaredWalFile {
  readonly file: WalFileRef;
  readonly declaration: WalDeclaration;
}

/**
 * Validates `input` as the declaration of `file` (parseWalDeclaration): the one parse of a
 * request's declaration; the use cases take the result.
 *
 * @throws InputError (INPUT_INVALID) naming the first problem.
 */
export function declareWalFile(file: WalFileRef, input: unknown): DeclaredWalFile {
  return { file, declaration: validateDeclaration(file.name, file.kind, input) };
}

/**
 * Validates `input` as the declaration of the WAL file `name`: the shape, then the rules
 * that depend on the kind of file.
 *
 * - Segments and `.partial` files carry `systemId` and `segmentSize` (a valid
 *   wal_segment_size), and their `size` is exactly `segmentSize`.
 * - History files and backup labels carry neither, and are at most 1 MiB.
 * - `storedSize` is at most `size` + 1 MiB; uncompressed (`none`), the stored bytes are the file.
 *
 * @throws InputError (INPUT_INVALID) naming the first problem.
 */
export function parseWalDeclaration(name: string, input: unknown): WalDeclaration {
  return validateDeclaration(name, walKindOf(name), input);
}

function validateDeclaration(name: string, kind: WalFileKind, input: unknown): WalDeclaration {
  const parsed = walDeclarationSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'the declaration';
    throw invalid(name, `${where}: ${issue?.message ?? 'invalid'}`);
  }
  const declaration = parsed.data;
  if (kind === 'segment' || kind === 'partial') {
    if (declaration.systemId === undefined || declaration.segmentSize === undefined) {
      throw invalid(name, 'a segment needs systemId and segmentSize (read them from its header)');
    }
    if (BigInt(declaration.systemId) > MAX_SYSTEM_ID) throw invalid(name, 'systemId is over 64 bits');
    try {
      assertSegmentSize(declaration.segmentSize);
    } catch {
      throw invalid(name, `segmentSize ${declaration.segmentSize} is not a power of two from 1 MiB to 1 GiB`);
    }
    if (declaration.size !== declaration.segmentSize) throw invalid(name, `size ${declaration.size} is not the segment size ${declaration.segmentSize}`);
  } else {
    if (declaration.systemId !== undefined || declaration.segmentSize !== undefined || declaration.pgVersion !== undefined) {
      throw invalid(name, `a ${kind} file has no systemId, segmentSize or pgVersion`);
    }
    if (declaration.size > MAX_SMALL_FILE_BYTES) throw invalid(name, `size ${declaration.size} is over ${MAX_SMALL_FILE_BYTES} bytes for a ${kind} file`);
  }
  if (declaration.storedSize > declaration.size + COMPRESSION_HEADROOM_BYTES) {
    throw invalid(name, `storedSize ${declaration.storedSize} is more than 1 MiB over size ${declaration.size}`);
  }
  if (declaration.compression === 'none' && (declaration.storedSize !== declaration.size || declaration.storedSha256 !== declaration.sha256)) {
    throw invalid(name, 'without compression the stored size and SHA-256 are the file\'s');
  }
  return declaration;
}

function invalid(name: string, detail: string): InputError {
  return new InputError(`the declaration of ${name} is invalid: ${detail}`, 'send {size, sha256, storedSize, storedSha256, compression} and, for segments, systemId, segmentSize and pgVersion from the segment header (docs/wal.md)');
}
