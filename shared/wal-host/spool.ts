import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * The spool of one database on the host: `out/<name>.ok` markers of files the uploader
 * archived ahead, `in/<name>` files the prefetcher fetched ahead, and the pid files that
 * keep one uploader and one prefetcher per spool.
 */

export type BackgroundRole = 'uploader' | 'prefetcher';

const LOG_ROTATE_BYTES = 5 * 1024 * 1024;

/** `<spool>/out/<name>.ok`: the marker of a file archived ahead. */
export function markerPath(spool: string, name: string): string {
  return join(spool, 'out', `${name}.ok`);
}

/**
 * `<spool>/out/<name>.link`: the marker as a hard link to the very file archived ahead (same
 * device and inode), which the wal-push script checks with the shell's own `-ef`, without
 * starting a process. Only when the spool is on pg_wal's filesystem; else the `.ok` marker.
 */
export function linkMarkerPath(spool: string, name: string): string {
  return join(spool, 'out', `${name}.link`);
}

/** `<spool>/out/<name>.busy`: a foreground wal-push is pushing `name` (holds its pid). */
export function busyPath(spool: string, name: string): string {
  return join(spool, 'out', `${name}.busy`);
}

/** `<spool>/out/<name>.pushing`: the uploader is pushing `name` (holds its pid). */
export function pushingPath(spool: string, name: string): string {
  return join(spool, 'out', `${name}.pushing`);
}

/** `<spool>/in/<name>`: a verified, decompressed file fetched ahead. */
export function inboxPath(spool: string, name: string): string {
  return join(spool, 'in', name);
}

/**
 * `<spool>/tmp`: the files zstd reads or writes for a push or a fetch, each removed once
 * read back; strays of a killed process are swept by the uploader.
 */
export function scratchPath(spool: string): string {
  return join(spool, 'tmp');
}

/** `<spool>/prefetch.want`: the last file recovery asked for (the prefetcher works ahead of it). */
export function wantPath(spool: string): string {
  return join(spool, 'prefetch.want');
}

/** `<spool>/<role>.pid`. */
export function pidPath(spool: string, role: BackgroundRole): string {
  return join(spool, `${role}.pid`);
}

/** The text of a small file, or undefined when it is absent or unreadable. */
export async function readSmall(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Writes `text` to `path` through a temporary name and a rename (readers see all or nothing). */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/** Removes a file; absent is fine. */
export async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** True when a process `pid` exists on this host (signal 0; one of another user, EPERM, exists too). */
export function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `pid` is a live process playing `role` (not a recycled pid of something else). */
export async function isAlive(pid: number, role: string): Promise<boolean> {
  if (!pidExists(pid)) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return cmdline === undefined || cmdline.split('\0').includes(role);
}

/** The pid of the live holder of `<spool>/<role>.pid`, or undefined. */
export async function lockHolder(spool: string, role: BackgroundRole): Promise<number | undefined> {
  const pid = Number(await readSmall(pidPath(spool, role)));
  return (await isAlive(pid, role)) ? pid : undefined;
}

/**
 * Takes `<spool>/<role>.pid` for this process (O_EXCL create; a pid file of a dead or
 * foreign process is replaced). Resolves false when a live process holds it. Two starters
 * replacing the same stale file may both win: each holder re-checks with holdsLock and
 * steps down, so at worst two run briefly (pushes are idempotent).
 */
export async function acquireLock(spool: string, role: BackgroundRole): Promise<boolean> {
  await mkdir(spool, { recursive: true });
  const path = pidPath(spool, role);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if ((await lockHolder(spool, role)) !== undefined) return false;
    await removeQuietly(path);
  }
  return false;
}

/** True while `<spool>/<role>.pid` still names this process. */
export async function holdsLock(spool: string, role: BackgroundRole): Promise<boolean> {
  return Number(await readSmall(pidPath(spool, role))) === process.pid;
}

/** Removes the pid file if it is this process's. */
export async function releaseLock(spool: string, role: BackgroundRole): Promise<void> {
  if (await holdsLock(spool, role)) await removeQuietly(pidPath(spool, role));
}

/**
 * Starts `node <entry> <role> ...args` detached from this process (its own session,
 * stdout and stderr appended to `<spool>/<role>.log`), unless one already runs. The child
 * arbitrates with acquireLock, so a race only costs a process that exits at once.
 */
export async function ensureBackground(spool: string, role: BackgroundRole, args: string[], entry = process.argv[1]): Promise<void> {
  if (!entry || (await lockHolder(spool, role)) !== undefined) return;
  await mkdir(spool, { recursive: true });
  await rotateLog(spool, role);
  const fd = openSync(join(spool, `${role}.log`), 'a');
  try {
    const child = process.getBuiltinModule('node:child_process').spawn(process.execPath, [resolve(entry), role, ...args], { detached: true, stdio: ['ignore', fd, fd], env: process.env });
    child.on('error', () => undefined);
    child.unref();
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves `<spool>/<role>.log` to `.log.1` when it is over 5 MiB. The process that writes it
 * (started by Node or by the wal-push script) calls this too: its own writes then go to
 * `.1` until it exits, and the next one starts a fresh log.
 */
export async function rotateLog(spool: string, role: BackgroundRole): Promise<void> {
  const log = join(spool, `${role}.log`);
  const size = await stat(log).then((s) => s.size, () => 0);
  if (size > LOG_ROTATE_BYTES) await rename(log, `${log}.1`).catch(() => undefined);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
