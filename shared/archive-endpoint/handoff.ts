import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { StrongboxError } from '../errors';
import { BodyTooLargeError } from '../usecases/wal-archive/errors';

/**
 * Hand-off: on one host (local mode), a WAL host may leave the stored bytes in a file of
 * its spool and name it in the PUT instead of sending them as the body — the local
 * counterpart of a presigned PUT, without the HTTP body's copies (measured in
 * docs/benchmarks.md). The endpoint reads only from the folder its own configuration gives
 * for the database (never a path from the request: a bare file name), only a regular file
 * (no symlink) owned by the owner of that folder (so the endpoint reads nothing the
 * server's OS user could not read itself), and only the declared size. The bytes are then
 * hashed and stored as a body's are; the sender removes its file.
 */

/** 403 HANDOFF_REFUSED: this endpoint takes no hand-off for the database, or not this file. The sender sends the body instead. */
export class HandoffRefusedError extends StrongboxError {
  constructor(detail: string) {
    super('HANDOFF_REFUSED', `the hand-off file was refused: ${detail}`, 'send the bytes as the request body (the WAL host does so by itself)');
  }
}

/** A hand-off file's name: a plain name in the folder, never a path. */
const FILE_NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,200}$/;

/**
 * Reads hand-off file `file` of folder `dir` into `into` (sized to the declaration).
 * Resolves the bytes read. Throws HandoffRefusedError (bad name, no such file, symlink,
 * not a regular file, other owner, unreadable), BodyTooLargeError (a larger file).
 */
export async function readHandoff(dir: string, file: string, into: Buffer): Promise<number> {
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
    if (stats.size > into.length) throw new BodyTooLargeError(`the hand-off file ${file} (${stats.size} bytes)`, into.length);
    let filled = 0;
    while (filled < into.length) {
      const { bytesRead } = await handle.read(into, filled, into.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled;
  } finally {
    await handle.close();
  }
}
