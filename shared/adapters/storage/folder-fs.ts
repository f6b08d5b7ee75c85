import { link, mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { ObjectNotFoundError, StorageError } from '../../errors';

/** The repository folder's filesystem helpers: durable directories and errors that say what to do. */

/** Creates file `path` (never an existing one), and its folder when that is missing. */
async function openNew(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx');
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'wx');
  }
}

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

/** Runs a filesystem call, turning its errors into ObjectNotFoundError (when `missingKey` is given) or StorageError. */
export async function fsCall<T>(action: string, call: () => Promise<T>, missingKey?: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (missingKey !== undefined && (isMissing(error) || isCode(error, 'EISDIR'))) throw new ObjectNotFoundError(missingKey, { cause: error });
    throw fsError(action, error);
  }
}

/** The file at `path` (undefined when there is none, or a folder is). */
export async function statFile(key: string, path: string): Promise<{ size: number; mtime: Date; ino: number; mtimeMs: number } | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw fsError(`stat ${key}`, error);
  }
}

/** What names one stored file: objects are never changed in place, so inode, size and mtime do. */
export function fileTag(info: { ino: number; size: number; mtimeMs: number }): string {
  return `${info.ino}-${info.size}-${info.mtimeMs}`;
}

/** Moves (renames, or links with `move`) `temp` to `target`, making its parents and fsyncing the new ones. */
export async function moveIntoPlace(temp: string, target: string, move: (from: string, to: string) => Promise<void> = rename): Promise<void> {
  const parent = dirname(target);
  for (let attempt = 1; ; attempt += 1) {
    const firstCreated = await fsCall(`create ${parent}`, () => mkdir(parent, { recursive: true }));
    try {
      await move(temp, target);
      // New directories are only durable once their own parents are fsync'd too.
      for (const dir of directoriesToSync(parent, firstCreated)) await fsCall(`fsync ${dir}`, () => fsyncDirectory(dir));
      return;
    } catch (error) {
      // A concurrent delete may prune the fresh parent between mkdir and rename: make it again.
      if (isCode(error, 'ENOENT') && attempt < 3) continue;
      throw fsError(`rename into ${target}`, error);
    }
  }
}

/** The keys of the files under `base`/`dirKey` whose names start with `namePrefix`; `reserved` names at the top are skipped. */
export async function keysUnder(base: string, dirKey: string, namePrefix: string, reserved: readonly string[]): Promise<string[]> {
  const dir = join(base, ...dirKey.split('/').filter(Boolean));
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
    throw fsError(`list ${dir}`, error);
  }
  const keys: string[] = [];
  for (const entry of entries) {
    if (!entry.name.startsWith(namePrefix)) continue;
    if (dirKey === '' && reserved.includes(entry.name)) continue;
    if (entry.isFile()) keys.push(dirKey + entry.name);
    else if (entry.isDirectory()) keys.push(...(await keysUnder(base, `${dirKey}${entry.name}/`, '', reserved)));
  }
  return keys;
}

/** Removes `dir` and its parents while they are empty, inside `root` and never `keep`. */
export async function pruneEmptyParents(root: string, keep: string, dir: string): Promise<void> {
  // Retention deletes whole backups; leaving their empty folders behind would slow every later listing.
  while (dir.startsWith(root + sep) && dir !== keep) {
    try {
      await rmdir(dir);
    } catch {
      return; // not empty, already gone or not ours to remove: all fine for a tidy-up
    }
    dir = dirname(dir);
  }
}

/** Writes `bytes` into a new file at `path` and fsyncs it. */
export async function writeNewFileSynced(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await openNew(path);
  try {
    // writeFile's 512 KiB calls: one write of a whole frame cost ~0.7 s more system CPU a 48-segment pass, 128 KiB calls no less (docs/benchmarks.md, session 13).
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Hard-links the first of `paths` that is a file to `destination`: false when a link is
 * impossible (another filesystem, no hard links), ObjectNotFoundError when none is a file.
 */
export async function linkFirstOf(key: string, paths: readonly string[], destination: string): Promise<boolean> {
  for (const path of paths) {
    try {
      if (!(await stat(path)).isFile()) continue;
      await link(path, destination);
      return true;
    } catch (error) {
      if (isMissing(error)) continue;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EMLINK') return false;
      throw fsError(`link ${key}`, error);
    }
  }
  throw new ObjectNotFoundError(key);
}

/**
 * Moves the file at `path` to `aside` (one rename), then keeps it deleted only if it is the
 * one `etag` names; another one (written meanwhile) is linked back at `path`. Objects are
 * never changed in place, so the file's inode, size and mtime name one object.
 */
export async function removeIfTagged(key: string, path: string, aside: string, etag: string): Promise<boolean> {
  try {
    await rename(path, aside);
  } catch (error) {
    if (isMissing(error)) return false;
    throw fsError(`delete ${key}`, error);
  }
  const moved = await fsCall(`stat ${key}`, () => stat(aside));
  if (fileTag(moved) === etag) {
    await fsCall(`delete ${key}`, () => rm(aside, { force: true }));
    return true;
  }
  try {
    await link(aside, path);
  } catch (error) {
    if (!isCode(error, 'EEXIST')) throw fsError(`restore ${key}`, error);
  }
  await rm(aside, { force: true });
  return false;
}
