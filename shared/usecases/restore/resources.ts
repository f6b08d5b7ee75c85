/**
 * The size of the ECS task that restores, drills or restores a table from one backup: what
 * the functions put into their state machine's input (`resources`) so that RunTask gets the
 * disk, vCPU and memory this backup needs — or refuse before anything starts.
 */
import type { Storage } from '../../ports/storage';
import type { BackupEntry } from '../../domain/backup';
import { databaseBytesOf, planDrillDisk, planTaskCompute, planTaskDisk, taskResources, type BackupSize, type DiskOptions, type DiskPlan, type PhysicalDrillSize, type SizedJob, type TaskResources } from '../../domain/task-sizing';
import { parseLsn } from '../../domain/wal/names';
import { StrongboxError } from '../../errors';
import { planRecovery, type PitrDeps } from '../pitr';
import { readManifest } from '../index-manifest';
import { partsBytes } from './parts';
import { postDataPart } from '../../domain/manifest-parts';

/** pg_restore's jobs when the operator names none and the dump fits the task's disk. */
export const DEFAULT_RESTORE_JOBS = 2;

/**
 * The sizes sizing needs: the dump's bytes and compression from the catalog entry, and, when
 * `storage` is given, the dump's exact size (every part of a parallel backup) and the database's size from the manifest.
 *
 * @throws ManifestError / ObjectNotFoundError / StorageError when the manifest cannot be read.
 */
export async function backupSizeOf(entry: BackupEntry, storage?: Storage): Promise<BackupSize> {
  if (!storage) return { dumpBytes: entry.bytes ?? 0, compression: entry.compression };
  const manifest = await readManifest(storage, entry.manifestKey);
  // A parallel backup: every part counts (restore and validate stream them, so this only ever
  // oversizes); a restore keeps only its post-data part on disk.
  const post = postDataPart(manifest);
  return { dumpBytes: partsBytes(manifest), compression: manifest.compression, databaseBytes: manifest.source.databaseSizeBytes, ...(post ? { postDataBytes: post.bytes } : {}) };
}

/**
 * The jobs of a restore: the operator's, or DEFAULT_RESTORE_JOBS when that fits the task's
 * disk, else 1 (streamed: no disk at all).
 */
export function restoreJobsFor(size: BackupSize, requested: number | undefined): number {
  if (requested !== undefined) return requested;
  try {
    planTaskDisk('restore', size, { jobs: DEFAULT_RESTORE_JOBS });
    return DEFAULT_RESTORE_JOBS;
  } catch {
    return 1;
  }
}

/** What one job's task gets, and why. */
export interface JobSizing {
  resources: TaskResources;
  disk: DiskPlan;
}

/**
 * The task's disk, vCPU and memory for `job` on a backup of `size`.
 *
 * @throws StrongboxError BACKUP_TOO_LARGE_FOR_TASK (see planTaskDisk).
 */
export function sizeJob(job: SizedJob, size: BackupSize, options: DiskOptions): JobSizing {
  const disk = planTaskDisk(job, size, options);
  return { resources: taskResources(planTaskCompute(databaseBytesOf(size)), disk), disk };
}

/**
 * The sizes of a physical drill of `backup` (a logical backup): its manifest's snapshot instant
 * and database size, the base backup the recovery would start from (planRecovery: the same
 * choice the drill makes) and the WAL between that base backup's start and the instant.
 *
 * @throws DRILL_NO_INSTANT for a manifest without the instant; what planRecovery throws
 *   (PITR_NO_BASE_BACKUP, WAL_GAP, PITR_TARGET_NOT_ARCHIVED…).
 */
export async function physicalDrillSizeOf(deps: PitrDeps, backup: BackupEntry): Promise<PhysicalDrillSize> {
  const manifest = await readManifest(deps.storage, backup.manifestKey);
  const instant = manifest.source.snapshot;
  if (!instant) throw new StrongboxError('DRILL_NO_INSTANT', `backup ${backup.id} does not record its snapshot's instant in the WAL (taken by an older Strongbox)`, 'drill a newer logical backup: --to latest');
  const last = parseLsn(instant.method === 'logical-slot' ? instant.lsn : instant.afterLsn);
  const first = instant.method === 'logical-slot' ? instant.lsn : instant.beforeLsn;
  const { entry } = await planRecovery(deps, backup.database, { type: 'lsn', lsn: parseLsn(first) });
  const walBytes = Number(last - parseLsn(entry.base?.startLsn ?? '0/0'));
  return { baseBytes: entry.bytes ?? 0, baseCompressed: entry.compression !== 'none', databaseBytes: manifest.source.databaseSizeBytes, walBytes: Math.max(0, walBytes) };
}

/** The task of a physical drill: disk from the base backup and the WAL (planDrillDisk), vCPU and memory from the recovered cluster's size. */
export function sizeDrill(size: PhysicalDrillSize): JobSizing {
  const disk = planDrillDisk(size);
  return { resources: taskResources(planTaskCompute(disk.localBytes), disk), disk };
}
