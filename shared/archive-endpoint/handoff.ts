import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { WalFileRef } from '../domain/wal/file-ref';
import { SEGMENT_HEADER_SIZE } from '../domain/wal/header';
import type { WalCompression } from '../domain/wal/keys';
import { StrongboxError } from '../errors';
import { BodyTooLargeError, storeEncodedWal, type PushOutcome, type WalArchiveDeps } from '../usecases/wal-archive';

/**
 * Hand-off: on one host (local mode), the WAL host hands the endpoint the WAL file itself —
 * a hard link (or a copy) in its spool — and names it in the PUT instead of sending bytes:
 * the local counterpart of a presigned PUT. The endpoint, the trusted side, reads the file
 * once, hashes and compresses it itself (its encoder, on worker threads), so a segment
 * costs one compression and one pass of hashing in all (docs/benchmarks.md). It reads only
 * from the folder its own configuration gives for the database (never a path from the
 * request: a bare file name), only a regular file (no symlink) owned by the owner of that
 * folder (so the endpoint reads nothing the server's OS user could not read itself). The
 * sender removes its file.
 */

/** 403 HANDOFF_REFUSED: this endpoint takes no hand-off for the database, or not this file. The sender pushes it the usual way instead. */
export class HandoffRefusedError extends StrongboxError {
  constructor(detail: string) {
    super('HANDOFF_REFUSED', `the hand-off file was refused: ${detail}`, 'push the file the usual way, compressed and sent (the WAL host does so by itself)');
  }
}

/** What an encoder made of one file: the stored bytes (pooled: `release()` once stored) and both SHA-256s. */
export interface EncodedBytes {
  stored: Buffer;
  sha256: string;
  storedSha256: string;
  release(): void;
}

/** The endpoint's own compression of handed-over files (local mode binds it to the zstd workers). */
export interface HandoffEncoder {
  /** The compressions it writes. */
  readonly compressions: readonly WalCompression[];
  /** Reads `size` bytes of the open file from its start and encodes them. Throws StrongboxError. */
  encode(handle: FileHandle, size: number, compression: WalCompression): Promise<EncodedBytes>;
}

/** A hand-off file's name: a plain name in the folder, never a path. */
const FILE_NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,200}$/;

/**
 * Stores WAL file `file`, handed over as file `handoff` of folder `dir`, in `compression`:
 * the file read and encoded by `encoder`, then stored and recorded (storeEncodedWal).
 *
 * @throws HandoffRefusedError (bad name, no such file, symlink, not a regular file, other
 *   owner, unreadable), StrongboxError WAL_READ_FAILED (changed while read), BodyTooLargeError (over `maxBytes`), what the
 *   encoder and storeEncodedWal throw (nothing kept).
 */
export async function storeHandoff(
  deps: WalArchiveDeps,
  file: WalFileRef,
  handoff: { dir: string; name: string; compression: WalCompression; encoder: HandoffEncoder; maxBytes: number },
): Promise<PushOutcome> {
  const { handle, size, mtimeMs } = await openHandoff(handoff.dir, handoff.name);
  try {
    if (size > handoff.maxBytes) throw new BodyTooLargeError(`the hand-off file ${handoff.name} (${size} bytes)`, handoff.maxBytes);
    const head = Buffer.alloc(Math.min(size, SEGMENT_HEADER_SIZE));
    await handle.read(head, 0, head.length, 0);
    const encoded = await handoff.encoder.encode(handle, size, handoff.compression);
    try {
      const after = await handle.stat();
      if (after.size !== size || after.mtimeMs !== mtimeMs) {
        throw new StrongboxError('WAL_READ_FAILED', `the hand-off file ${handoff.name} changed while it was read`, 'PostgreSQL does not change a file it asked to archive: check that nothing else writes into pg_wal; the WAL host pushes it again');
      }
      const { stored, sha256, storedSha256 } = encoded;
      const content = { storedBytes: stored.length, storedSha256, size, sha256, head };
      return await storeEncodedWal(deps, file, { compression: handoff.compression, stored, content });
    } finally {
      encoded.release();
    }
  } finally {
    await handle.close();
  }
}

/** Opens hand-off file `file` of folder `dir` after the checks above. Throws HandoffRefusedError. */
async function openHandoff(dir: string, file: string): Promise<{ handle: FileHandle; size: number; mtimeMs: number }> {
  if (!FILE_NAME.test(file) || file.includes('..')) throw new HandoffRefusedError(`"${file.slice(0, 40)}" is not a plain file name`);
  const folder = await lstat(dir).catch(() => undefined);
  if (!folder?.isDirectory()) throw new HandoffRefusedError(`the hand-off folder of this database is missing or not a folder`);
  let handle;
  try {
    handle = await open(join(dir, file), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new HandoffRefusedError(`cannot open ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new HandoffRefusedError(`${file} is not a regular file`);
    if (stats.uid !== folder.uid) throw new HandoffRefusedError(`${file} is not owned by the owner of the spool`);
    return { handle, size: stats.size, mtimeMs: stats.mtimeMs };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
