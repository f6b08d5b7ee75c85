/**
 * The recovery side of the WAL benchmark: each archiver's restore_command run once per
 * segment, oldest first, as PostgreSQL's startup process runs it during a point-in-time
 * recovery (`%f` the segment, `%p` = `pg_wal/RECOVERYXLOG`, cwd the data directory, the
 * server's OS user). Every restored file is compared with the original segment and removed
 * before the next command, as the startup process consumes it; a wrong byte fails the run.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { archivePass, type PassResult } from './drive';
import { chownToServer, type WalSource } from './source';

/** What the startup process asks for and where it wants it. */
export const RECOVERY_TARGET = 'pg_wal/RECOVERYXLOG';

/** A data directory for a recovery pass: an empty `pg_wal/` and `global/pg_control` (pgBackRest checks it), owned by the server's user. */
export async function makeRecoveryDir(source: WalSource, dir: string): Promise<void> {
  await mkdir(join(dir, 'pg_wal'), { recursive: true });
  await mkdir(join(dir, 'global'));
  await copyFile(join(source.root, 'pg_control'), join(dir, 'global', 'pg_control'));
  for (const path of [dir, join(dir, 'pg_wal'), join(dir, 'global'), join(dir, 'global', 'pg_control')]) await chownToServer(path);
}

/**
 * Restores every segment of `source` through `command` into `dir` (made by makeRecoveryDir).
 *
 * @throws Error when a command keeps failing, or a restored file is not the original segment.
 */
export async function recoveryPass(command: string, dir: string, source: WalSource, signal?: AbortSignal): Promise<PassResult> {
  const restored = join(dir, RECOVERY_TARGET);
  const check = async (name: string) => {
    const [got, want] = await Promise.all([readFile(restored), originalSha256(source, name)]);
    if (createHash('sha256').update(got).digest('hex') !== want) throw new Error(`${command} restored other bytes than ${name}`);
    await rm(restored);
  };
  return archivePass(command, { dir, markDone: check }, source.segments, signal, () => RECOVERY_TARGET);
}

const originals = new Map<string, Promise<string>>();

function originalSha256(source: WalSource, name: string): Promise<string> {
  const key = join(source.root, 'segments', name);
  let digest = originals.get(key);
  if (!digest) {
    digest = readFile(key).then((bytes) => createHash('sha256').update(bytes).digest('hex'));
    originals.set(key, digest);
  }
  return digest;
}
