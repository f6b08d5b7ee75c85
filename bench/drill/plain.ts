/**
 * bench:drill's baseline: what a person would do by hand — a plain `pg_basebackup -Ft` tar on
 * local disk, untarred, then PostgreSQL's own replay with `cp` as restore_command from a local
 * copy of the same archived WAL, to the same LSN (paused there, as the drill pauses).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../../shared/adapters/postgres/cluster';
import { runAsServerUser } from '../../shared/adapters/postgres/process';
import { writeRecoveryConfig } from '../../shared/adapters/postgres/recovery';
import { prepareSocketDir, restrictToSocket, scratchSettings, startPaused, stopServer } from '../../shared/adapters/postgres/scratch-server';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import type { PgConnection } from '../../shared/ports/postgres';
import { chownToServer } from '../wal/source';
import { runShell } from '../wal/shell';

/** Takes the plain base backup into `file` (a tar). */
export async function plainBaseBackup(conn: PgConnection, file: string): Promise<void> {
  await runShell(`pg_basebackup -D - -Ft -X fetch --checkpoint=fast --no-password > ${file}`, toolEnv(conn));
}

/** Untars `file` into a new folder under `work` and replays `archive`'s WAL to `lsn`; times both, then removes it. */
export async function plainRecovery(options: { file: string; work: string; archive: string; lsn: string; timeoutMs: number; restoreCommand?: string; onPaused?: (dataDir: string) => Promise<void> }): Promise<{ untarSeconds: number; replaySeconds: number }> {
  const dir = join(options.work, `plain-${Date.now()}`);
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chownToServer(dir);
  await chownToServer(dataDir);
  const socketDir = await prepareSocketDir();
  try {
    const untarStarted = performance.now();
    const untar = await runAsServerUser('tar', ['-x', '-f', options.file, '-C', dataDir], { cwd: '/' });
    if (untar.code !== 0) throw new Error(`tar failed: ${untar.stderr}`);
    const untarSeconds = (performance.now() - untarStarted) / 1000;
    const socket = { socketDir, port: await freePort() };
    await restrictToSocket(dataDir);
    await writeRecoveryConfig(dataDir, {
      recovery_target_lsn: options.lsn,
      recovery_target_inclusive: 'off',
      recovery_target_timeline: 'current',
      restore_command: options.restoreCommand ?? plainRestoreCommand(options.archive),
      ...scratchSettings(socket, true),
    });
    const replay = await startPaused({ dataDir, socket, users: ['postgres'], timeoutMs: options.timeoutMs });
    await options.onPaused?.(dataDir);
    return { untarSeconds, replaySeconds: replay.seconds };
  } finally {
    await stopServer(dataDir, 'immediate').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await rm(socketDir, { recursive: true, force: true });
  }
}

/** The baseline's restore_command: `cp` from the local copy of the archive. */
export function plainRestoreCommand(archive: string): string {
  return `cp ${archive}/%f %p`;
}
