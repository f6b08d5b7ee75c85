/**
 * The task's own check, before it starts anything, that the backup fits its disk: the
 * functions size the task from the backup (shared/domain/task-sizing.ts), but a task started
 * without that sizing (the monthly drill names `latest`; a hand-made execution) learns the
 * backup only here. Refused with BACKUP_TOO_LARGE_FOR_TASK instead of a disk full hours later.
 */
import { statfs } from 'node:fs/promises';
import type { Storage } from '../shared/ports/storage';
import type { BackupEntry } from '../shared/domain/backup';
import { localBytesFor, physicalDrillBytes, type DiskOptions, type SizedJob } from '../shared/domain/task-sizing';
import { StrongboxError } from '../shared/errors';
import type { Log } from '../shared/ports';
import type { PitrDeps } from '../shared/usecases/pitr';
import { backupSizeOf, physicalDrillSizeOf } from '../shared/usecases/restore/resources';

/** Bytes free for this user under `path`. */
export type FreeDisk = (path: string) => Promise<number>;

/** The file system's free bytes under `path` (statfs: blocks available to unprivileged users). */
export const statfsFree: FreeDisk = async (path) => {
  const info = await statfs(path);
  return info.bavail * info.bsize;
};

/** Headroom over the job's own bytes (file system metadata, pg_restore's scratch files). */
const MARGIN = 1.1;

const GIB = 1024 ** 3;

/**
 * Refuses a job whose files cannot fit the disk under `dir`; a streamed restore needs none.
 *
 * @throws StrongboxError BACKUP_TOO_LARGE_FOR_TASK naming what is needed and what is free;
 *   ManifestError / StorageError when the manifest cannot be read.
 */
export async function assertDiskFits(options: {
  job: SizedJob;
  backup: BackupEntry;
  storage: Storage;
  disk: DiskOptions;
  dir: string;
  free: FreeDisk;
  log: Log;
}): Promise<void> {
  const size = await backupSizeOf(options.backup, options.storage);
  const { path, bytes } = localBytesFor(options.job, size, options.disk);
  const needed = Math.ceil(bytes * MARGIN);
  const free = path === 'stream' ? Number.POSITIVE_INFINITY : await options.free(options.dir);
  options.log.info('task disk checked', { backupId: options.backup.id, job: options.job, path, neededBytes: needed, freeBytes: Number.isFinite(free) ? free : null });
  if (needed <= free) return;
  const gib = (value: number) => `${(value / GIB).toFixed(1)} GiB`;
  throw new StrongboxError(
    'BACKUP_TOO_LARGE_FOR_TASK',
    `the ${options.job} of backup ${options.backup.id} needs ${gib(needed)} under ${options.dir}, which has ${gib(free)} free: nothing was started`,
    options.job === 'restore'
      ? 'restore with jobs 1 (streamed from storage, no disk), or start it through the restore function, which sizes the task\'s disk from the backup'
      : 'start the drill through the validate function (`sls invoke -f validate`), which sizes the task\'s disk from the backup, or drill on a scratch server (`strongbox validate --scratch-url`)',
  );
}

/**
 * The physical drill's check: the cluster it recovers (the base backup unpacked, grown by the
 * WAL replayed to the instant, physicalDrillBytes) must fit the disk under `dir`. When the
 * recovery cannot be planned (no base backup, a WAL gap, the instant not archived yet) the
 * drill itself says so and records it: the check steps aside.
 *
 * @throws StrongboxError BACKUP_TOO_LARGE_FOR_TASK naming what is needed and what is free.
 */
export async function assertDrillDiskFits(options: { deps: PitrDeps; backup: BackupEntry; dir: string; free: FreeDisk; log: Log }): Promise<void> {
  const size = await physicalDrillSizeOf(options.deps, options.backup).catch((error: unknown) => {
    options.log.warn('task disk not checked: the drill\'s recovery cannot be planned (the drill reports why)', { backupId: options.backup.id, reason: error instanceof Error ? error.message : String(error) });
    return undefined;
  });
  if (!size) return;
  const needed = Math.ceil(physicalDrillBytes(size) * MARGIN);
  const free = await options.free(options.dir);
  options.log.info('task disk checked', { backupId: options.backup.id, job: 'pitr-drill', neededBytes: needed, freeBytes: free, baseBytes: size.baseBytes, walBytes: size.walBytes });
  if (needed <= free) return;
  const gib = (value: number) => `${(value / GIB).toFixed(1)} GiB`;
  throw new StrongboxError(
    'BACKUP_TOO_LARGE_FOR_TASK',
    `the physical drill of backup ${options.backup.id} recovers a cluster needing ${gib(needed)} under ${options.dir} (base backup ${gib(size.baseBytes)}, ${gib(size.walBytes)} of WAL), which has ${gib(free)} free: nothing was started`,
    'start the drill through the validate function (`sls invoke -f validate --data \'{"pitr":true}\'`), which sizes the task\'s disk from the base backup, or run `strongbox validate --pitr` on a host with enough disk',
  );
}
