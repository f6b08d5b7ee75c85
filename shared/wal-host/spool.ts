import { closeSync, openSync } from 'node:fs';
import { access, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ownedByMe, ownerAlive, ownerLine, pidPath, type BackgroundRole } from './spool-protocol';

/**
 * The mechanics of the spool's background processes (one uploader and one prefetcher per
 * spool, each guarded by its pid file) and small-file helpers. What each spool file means
 * and who may touch it: spool-protocol.ts.
 */

const LOG_ROTATE_BYTES = 5 * 1024 * 1024;

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

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Removes a file; absent is fine. */
export async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** The pid of the live owner of `<spool>/<role>.pid`, or undefined. */
export async function lockHolder(spool: string, role: BackgroundRole): Promise<number | undefined> {
  const text = await readSmall(pidPath(spool, role));
  return (await ownerAlive(text, role)) ? Number(text!.split(' ')[0]) : undefined;
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
      await handle.writeFile(`${await ownerLine()}\n`);
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
  return ownedByMe(await readSmall(pidPath(spool, role)));
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
