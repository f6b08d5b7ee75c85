/**
 * How big an ECS (Fargate) task must be for one job on one backup: its ephemeral disk for
 * restore, validate and restore-table runs, and its vCPU and memory for any job, from the
 * backup's sizes. Pure: no I/O; the numbers are Fargate's documented limits.
 */
import { StrongboxError } from '../errors';
import type { StoredCompression } from './backup';

const GIB = 1024 ** 3;

/** Fargate's ephemeral storage: 20 GiB by default, an override from 21 up to 200 GiB. */
export const FARGATE_DISK_GIB = { min: 21, max: 200 } as const;

/**
 * Disk the task uses whatever the backup: the image's layers (Fargate counts them against
 * the ephemeral storage), logs, the drill's initdb and pg_restore's own scratch files.
 */
export const DISK_RESERVE_BYTES = 4 * GIB;

/** Headroom on every estimate (file system metadata, a dump that grew since it was measured). */
const MARGIN = 1.1;

/** A restored database's WAL beside its data (max_wal_size's default is 1 GiB; 2 leaves room). */
const WAL_RESERVE_BYTES = 2 * GIB;

/** The jobs that read a backup inside a task. */
export type SizedJob = 'restore' | 'validate' | 'restore-table';

/** What sizing needs of a backup: the catalog entry's bytes, and the manifest's database size when known. */
export interface BackupSize {
  /** The stored dump's bytes (compressed). */
  dumpBytes: number;
  compression: StoredCompression;
  /**
   * The source database's size on disk at backup time (manifest `source.databaseSizeBytes`):
   * bounds the decompressed dump and the restored database. Absent: 4 × the dump is assumed.
   */
  databaseBytes?: number;
  /**
   * A parallel backup's post-data part (stored bytes): its data parts always stream, and with
   * jobs > 1 only this part is copied to the disk (for `pg_restore -j`).
   */
  postDataBytes?: number;
}

/** What a zstd post-data part (DDL text) may grow to when decompressed beside itself: generous, it is small. */
const POST_DATA_ZSTD_GROWTH = 10;

/** How the job reads the dump, and where its database lives. */
export interface DiskOptions {
  /** pg_restore -j: above 1 the dump must be a local file (pg_restore cannot read a pipe in parallel). */
  jobs: number;
  /** The drill restores into a PostgreSQL inside the task (true) or a configured scratch server (false). */
  scratchInTask?: boolean;
}

/** What sizing decided for one run. */
export interface DiskPlan {
  /** `stream`: storage → pg_restore, no local copy; `download`: the dump is a local file first. */
  path: 'stream' | 'download';
  /** Bytes the job writes to the task's disk at its peak (before the reserve and margin). */
  localBytes: number;
  /** The RunTask override `ephemeralStorage.sizeInGiB`. */
  sizeInGiB: number;
}

/** Assumed when the manifest's database size is unknown: a dump 4:1 smaller than the database. */
const ASSUMED_RATIO = 4;

/** The database's size: the manifest's, else 4 × the dump (never less than the dump). */
export function databaseBytesOf(backup: BackupSize): number {
  return Math.max(backup.databaseBytes ?? backup.dumpBytes * ASSUMED_RATIO, backup.dumpBytes);
}

/**
 * The bytes a job keeps on the task's disk at its peak: the downloaded dump (and, for a zstd
 * dump, its decompressed copy, both present while zstd runs), plus for a drill inside the
 * task the restored database and its WAL. A single-job restore streams (nothing local).
 */
export function localBytesFor(job: SizedJob, backup: BackupSize, options: DiskOptions): { path: DiskPlan['path']; bytes: number } {
  if (job === 'restore' && options.jobs <= 1) return { path: 'stream', bytes: 0 };
  if (job === 'restore' && backup.postDataBytes !== undefined) {
    return { path: 'stream', bytes: backup.postDataBytes * (backup.compression === 'zstd' ? 1 + POST_DATA_ZSTD_GROWTH : 1) };
  }
  const decompressed = backup.compression === 'zstd' ? databaseBytesOf(backup) : 0;
  const dump = backup.dumpBytes + decompressed;
  const scratch = job === 'validate' && options.scratchInTask !== false ? databaseBytesOf(backup) + WAL_RESERVE_BYTES : 0;
  return { path: 'download', bytes: dump + scratch };
}

/**
 * The ephemeral storage for `job` on `backup`, rounded up to whole GiB within Fargate's
 * 21–200 GiB.
 *
 * @throws StrongboxError BACKUP_TOO_LARGE_FOR_TASK when even 200 GiB cannot hold it; the hint
 *   names what does fit (a single-job streamed restore, a scratch server for the drill).
 */
export function planTaskDisk(job: SizedJob, backup: BackupSize, options: DiskOptions): DiskPlan {
  const { path, bytes } = localBytesFor(job, backup, options);
  const needed = Math.ceil(((bytes + DISK_RESERVE_BYTES) * MARGIN) / GIB);
  if (needed > FARGATE_DISK_GIB.max) throw tooLarge(job, backup, bytes, needed);
  return { path, localBytes: bytes, sizeInGiB: Math.max(FARGATE_DISK_GIB.min, needed) };
}

function tooLarge(job: SizedJob, backup: BackupSize, bytes: number, needed: number): StrongboxError {
  const gib = (value: number) => `${(value / GIB).toFixed(1)} GiB`;
  const what = `${job} of a ${gib(backup.dumpBytes)} ${backup.compression} dump needs ${gib(bytes)} on the task's disk (${needed} GiB with reserve), over Fargate's ${FARGATE_DISK_GIB.max} GiB`;
  const hint =
    job === 'restore'
      ? 'restore with jobs 1: it streams the dump from S3 into pg_restore (one transaction) and needs no disk; or run `strongbox restore` from a host with enough disk'
      : job === 'validate'
        ? 'drill on a scratch server (`strongbox validate --scratch-url`, a separate RDS instance, never production): the task then keeps only the dump; or run `strongbox validate` on a host with enough disk'
        : 'run `strongbox restore-table` from a host with enough disk (it keeps the dump locally), or restore the whole database with jobs 1 and copy the table from it';
  return new StrongboxError('BACKUP_TOO_LARGE_FOR_TASK', `${what}: nothing was started`, hint);
}

/**
 * What sizing needs for a physical drill (`validate --pitr`): the cluster it recovers is the
 * BASE backup's, not the logical dump's, grown by the WAL replayed up to the drilled instant.
 */
export interface PhysicalDrillSize {
  /** The base backup's stored bytes (the tar, streamed from storage into the data folder). */
  baseBytes: number;
  /** Stored compressed: the cluster it unpacks to is assumed ASSUMED_RATIO × larger. */
  baseCompressed: boolean;
  /** The drilled database's size at the logical backup (its manifest), when known: the cluster holds at least that. */
  databaseBytes?: number;
  /** The WAL between the base backup's start and the instant: replay grows the data by at most that. */
  walBytes: number;
}

/**
 * The bytes a physical drill keeps on the task's disk: the recovered cluster (the base backup
 * unpacked; never less than the drilled database), the WAL replayed, and the recovered
 * cluster's own WAL (WAL_RESERVE_BYTES). The base backup streams in: no local copy of it.
 */
export function physicalDrillBytes(size: PhysicalDrillSize): number {
  const unpacked = size.baseCompressed ? size.baseBytes * ASSUMED_RATIO : size.baseBytes;
  return Math.max(unpacked, size.databaseBytes ?? 0) + size.walBytes + WAL_RESERVE_BYTES;
}

/**
 * The ephemeral storage of a physical drill's task, rounded up to whole GiB within Fargate's
 * 21–200 GiB, with the same reserve and margin as the other jobs.
 *
 * @throws StrongboxError BACKUP_TOO_LARGE_FOR_TASK when even 200 GiB cannot hold it.
 */
export function planDrillDisk(size: PhysicalDrillSize): DiskPlan {
  const bytes = physicalDrillBytes(size);
  const needed = Math.ceil(((bytes + DISK_RESERVE_BYTES) * MARGIN) / GIB);
  if (needed > FARGATE_DISK_GIB.max) {
    const gib = (value: number) => `${(value / GIB).toFixed(1)} GiB`;
    throw new StrongboxError(
      'BACKUP_TOO_LARGE_FOR_TASK',
      `the physical drill recovers a cluster of about ${gib(bytes)} (base backup ${gib(size.baseBytes)}${size.baseCompressed ? ' compressed' : ''}, ${gib(size.walBytes)} of WAL replayed; ${needed} GiB with reserve), over Fargate's ${FARGATE_DISK_GIB.max} GiB: nothing was started`,
      'take a newer base backup (`strongbox backup --type base`: less WAL to replay), or run `strongbox validate --pitr` on a host with enough disk',
    );
  }
  return { path: 'download', localBytes: bytes, sizeInGiB: Math.max(FARGATE_DISK_GIB.min, needed) };
}

/** A task size Fargate accepts (cpu in units, memory in MiB, as RunTask's overrides take them). */
export interface TaskCompute {
  cpu: number;
  memory: number;
}

/**
 * vCPU and memory by database size, each step a valid Fargate pair: ≤ 10 GiB 1 vCPU / 2 GiB
 * (the task definition's default), ≤ 100 GiB 2 / 4, ≤ 1 TiB 4 / 8, beyond 8 / 16. The logical
 * dump's parallel streams and pg_restore -j follow the vCPU count.
 */
export const COMPUTE_STEPS: ReadonlyArray<{ upToBytes: number; compute: TaskCompute }> = [
  { upToBytes: 10 * GIB, compute: { cpu: 1024, memory: 2048 } },
  { upToBytes: 100 * GIB, compute: { cpu: 2048, memory: 4096 } },
  { upToBytes: 1024 * GIB, compute: { cpu: 4096, memory: 8192 } },
  { upToBytes: Number.POSITIVE_INFINITY, compute: { cpu: 8192, memory: 16384 } },
];

/** The task's vCPU and memory for a database of `databaseBytes` (unknown: the smallest step). */
export function planTaskCompute(databaseBytes: number | undefined): TaskCompute {
  const bytes = databaseBytes ?? 0;
  const step = COMPUTE_STEPS.find((s) => bytes <= s.upToBytes) ?? COMPUTE_STEPS[COMPUTE_STEPS.length - 1]!;
  return { ...step.compute };
}

/**
 * Fargate's cpu/memory combinations (Linux): for each cpu, the memory range and its step.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
 */
const FARGATE_PAIRS: ReadonlyArray<{ cpu: number; min: number; max: number; step: number }> = [
  { cpu: 256, min: 512, max: 2048, step: 512 },
  { cpu: 512, min: 1024, max: 4096, step: 1024 },
  { cpu: 1024, min: 2048, max: 8192, step: 1024 },
  { cpu: 2048, min: 4096, max: 16384, step: 1024 },
  { cpu: 4096, min: 8192, max: 30720, step: 1024 },
  { cpu: 8192, min: 16384, max: 61440, step: 4096 },
  { cpu: 16384, min: 32768, max: 122880, step: 8192 },
];

/** True when Fargate accepts this cpu/memory pair. */
export function isFargatePair({ cpu, memory }: TaskCompute): boolean {
  const row = FARGATE_PAIRS.find((p) => p.cpu === cpu);
  if (!row || memory < row.min || memory > row.max) return false;
  // 256 CPU units take 512, 1024 or 2048 MiB.
  return cpu === 256 ? [512, 1024, 2048].includes(memory) : (memory - row.min) % row.step === 0;
}

/**
 * What a state machine's RunTask takes from its input (`$.resources`): the task's cpu and
 * memory as strings (ECS's task overrides), the container's hard memory limit as a number
 * (its override; the task definition sets it to the whole task's memory), and the disk.
 */
export interface TaskResources {
  cpu: string;
  memory: string;
  containerMemory: number;
  ephemeralStorageGiB: number;
}

/** The `$.resources` of a job's execution input. */
export function taskResources(compute: TaskCompute, disk: DiskPlan): TaskResources {
  return { cpu: String(compute.cpu), memory: String(compute.memory), containerMemory: compute.memory, ephemeralStorageGiB: disk.sizeInGiB };
}
