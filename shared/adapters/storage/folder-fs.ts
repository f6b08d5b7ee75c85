import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StorageError } from '../../errors';

/** The repository folder's filesystem helpers: durable directories and errors that say what to do. */

/** fsync of a directory: its entries (a rename into it) survive a crash. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `parent`, plus every directory above it up to the parent of the first one mkdir created. */
export function directoriesToSync(parent: string, firstCreated: string | undefined): string[] {
  const dirs = [parent];
  if (firstCreated === undefined) return dirs;
  const stop = dirname(firstCreated);
  for (let dir = parent; dir !== stop && dir !== dirname(dir); ) {
    dir = dirname(dir);
    dirs.push(dir);
  }
  return dirs;
}

export function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

export function isMissing(error: unknown): boolean {
  return isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR');
}

export function abortedError(key: string, signal: AbortSignal): StorageError {
  return new StorageError(`write of ${key} was aborted; nothing was stored`, 'write it again when the operation is resumed', { cause: signal.reason });
}

export function fsError(action: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  return new StorageError(`repository folder: ${action} failed: ${detail}`, fsHint(typeof code === 'string' ? code : ''), { cause: error });
}

function fsHint(code: string): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'make the repository folder writable by the user running Strongbox (check owner, mode and that the filesystem is not mounted read-only)';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk holding the repository folder is full: free space or point the repository at a larger disk';
    case 'EEXIST':
    case 'ENOTDIR':
    case 'EISDIR':
    case 'ENOTEMPTY':
      return 'a key and a folder collide (e.g. `a` and `a/b`): the repository folder cannot hold both; choose keys that do not';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files: raise the limit (`ulimit -n`) or run fewer operations at once';
    default:
      return 'check that the repository folder exists, is writable and that its disk is healthy';
  }
}
