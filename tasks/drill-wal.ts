/**
 * How the validation task reads the archive for a physical drill, as the restore-table task does
 * for a table as of a moment: the task serves its own scratch cluster the archive — the local
 * archive endpoint on 127.0.0.1 with a one-run token, reading the stored WAL through the task's
 * storage (S3, the task role's s3:GetObject on wal/*) — so that the scratch's restore_command is
 * Strongbox's wal-fetch as everywhere else. Everything is removed at the end.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startLocalArchiving } from '../shared/local/archiving';
import type { AwsDeps } from '../shared/runtime/aws';
import { resolveHome } from '../shared/local/home';
import { warmWalFetch } from '../shared/local/warm-wal';

/** What serving the archive in the task needs. */
export interface TaskArchiveDeps extends AwsDeps {
  tmpDir?: string;
  /** The built WAL bundle (default: dist/wal.js of the image). */
  walBundle?: string;
}

/**
 * Serves `database`'s archive on 127.0.0.1 while `run` runs with its restore_command, and the
 * warm start of its WAL prefetcher (shared/local/warm-wal.ts) for the recovery to call while it
 * unpacks the base backup.
 */
export async function withTaskArchive<T>(deps: TaskArchiveDeps, database: string, run: (restoreCommand: string, warmWal: (database: string, firstSegment: string) => Promise<void>) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(deps.tmpDir ?? tmpdir(), 'sbx-task-home-'));
  await chmod(root, 0o755);
  try {
    const context = { ...deps, paths: resolveHome({ STRONGBOX_HOME: join(root, 'home') }, root), catalogEndpoint: '', ownsCatalog: false, close: async () => undefined };
    const archiving = await startLocalArchiving({ context, storage: { type: 'folder' }, env: {}, databases: [database], bundle: deps.walBundle ?? resolve('dist/wal.js') });
    try {
      return await run(archiving.hosts.get(database)!.restoreCommand, warmWalFetch(context.paths, deps.log));
    } finally {
      await archiving.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
