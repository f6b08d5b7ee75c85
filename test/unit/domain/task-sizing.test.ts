import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COMPUTE_STEPS,
  FARGATE_DISK_GIB,
  isFargatePair,
  localBytesFor,
  planTaskCompute,
  planTaskDisk,
  taskResources,
  type BackupSize,
  type SizedJob,
} from '../../../shared/domain/task-sizing';
import type { StrongboxError } from '../../../shared/errors';
import { restoreJobsFor } from '../../../shared/usecases/restore/resources';

const GIB = 1024 ** 3;
const TIB = 1024 ** 4;

function refusal(run: () => unknown): StrongboxError {
  try {
    run();
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a refusal');
}

describe('planTaskDisk', () => {
  it.each<[string, SizedJob, BackupSize, { jobs: number; scratchInTask?: boolean }, 'stream' | 'download', number]>([
    // what, job, backup, options, path, GiB
    ['a small gzip restore, 2 jobs', 'restore', { dumpBytes: 1 * GIB, compression: 'gzip', databaseBytes: 3 * GIB }, { jobs: 2 }, 'download', 21],
    ['a 100 GiB gzip restore, 4 jobs: the dump + reserve', 'restore', { dumpBytes: 100 * GIB, compression: 'gzip', databaseBytes: 400 * GIB }, { jobs: 4 }, 'download', 115],
    ['a 10 TiB database restored with 1 job: streamed, no disk', 'restore', { dumpBytes: 2 * TIB, compression: 'gzip', databaseBytes: 10 * TIB }, { jobs: 1 }, 'stream', 21],
    ['a 5 TiB zstd dump restored with 1 job: streamed', 'restore', { dumpBytes: 5 * TIB, compression: 'zstd', databaseBytes: 10 * TIB }, { jobs: 1 }, 'stream', 21],
    ['a 20 GiB zstd restore, 2 jobs: dump + decompressed copy', 'restore', { dumpBytes: 20 * GIB, compression: 'zstd', databaseBytes: 60 * GIB }, { jobs: 2 }, 'download', 93],
    ['a drill of a 30 GiB database in the task: dump + database + WAL', 'validate', { dumpBytes: 10 * GIB, compression: 'gzip', databaseBytes: 30 * GIB }, { jobs: 2 }, 'download', 51],
    ['a drill on a scratch server: the dump only', 'validate', { dumpBytes: 10 * GIB, compression: 'gzip', databaseBytes: 30 * GIB }, { jobs: 2, scratchInTask: false }, 'download', 21],
    ['a drill of a single job still downloads (the drill keeps its dump)', 'validate', { dumpBytes: 1 * GIB, compression: 'gzip', databaseBytes: 2 * GIB }, { jobs: 1 }, 'download', 21],
    ['a table restore downloads the dump', 'restore-table', { dumpBytes: 150 * GIB, compression: 'gzip', databaseBytes: 600 * GIB }, { jobs: 1 }, 'download', 170],
    ['no database size: 4 x the dump is assumed', 'validate', { dumpBytes: 10 * GIB, compression: 'gzip' }, { jobs: 1 }, 'download', 62],
    ['a parallel backup of 2 TiB, 4 jobs: its parts stream, only the post-data part (DDL) is on disk', 'restore', { dumpBytes: 2 * TIB, compression: 'zstd', databaseBytes: 10 * TIB, postDataBytes: 200 * 1024 ** 2 }, { jobs: 4 }, 'stream', 21],
    ['a parallel backup with a huge post-data part: it and its decompressed copy', 'restore', { dumpBytes: 2 * TIB, compression: 'zstd', databaseBytes: 10 * TIB, postDataBytes: 5 * GIB }, { jobs: 4 }, 'stream', 65],
  ])('%s', (_what, job, backup, options, path, gib) => {
    const plan = planTaskDisk(job, backup, options);
    expect({ path: plan.path, sizeInGiB: plan.sizeInGiB }).toEqual({ path, sizeInGiB: gib });
  });

  it.each<[SizedJob, BackupSize, { jobs: number; scratchInTask?: boolean }, RegExp]>([
    ['restore', { dumpBytes: 190 * GIB, compression: 'gzip', databaseBytes: 800 * GIB }, { jobs: 2 }, /jobs 1: it streams/],
    ['restore', { dumpBytes: 60 * GIB, compression: 'zstd', databaseBytes: 200 * GIB }, { jobs: 4 }, /jobs 1/],
    ['validate', { dumpBytes: 40 * GIB, compression: 'gzip', databaseBytes: 200 * GIB }, { jobs: 1 }, /--scratch-url/],
    ['restore-table', { dumpBytes: 1 * TIB, compression: 'gzip', databaseBytes: 4 * TIB }, { jobs: 1 }, /restore-table` from a host/],
  ])('refuses a %s that no Fargate disk holds, before anything starts, with a hint', (job, backup, options, hint) => {
    const error = refusal(() => planTaskDisk(job, backup, options));
    expect(error.code).toBe('BACKUP_TOO_LARGE_FOR_TASK');
    expect(error.message).toMatch(/over Fargate's 200 GiB: nothing was started/);
    expect(error.hint).toMatch(hint);
  });

  it('stays within 21–200 GiB and covers what the job writes, for any size up to 10 TiB', () => {
    const jobs: SizedJob[] = ['restore', 'validate', 'restore-table'];
    fc.assert(
      fc.property(
        fc.constantFrom(...jobs),
        fc.integer({ min: 0, max: 10 * TIB }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom('gzip' as const, 'zstd' as const),
        fc.integer({ min: 1, max: 10 }),
        (job, dumpBytes, jobs, compression, ratio) => {
          const backup: BackupSize = { dumpBytes, compression, databaseBytes: dumpBytes * ratio };
          let plan;
          try {
            plan = planTaskDisk(job, backup, { jobs });
          } catch (error) {
            // Refused only when the bytes really do not fit.
            return (error as StrongboxError).code === 'BACKUP_TOO_LARGE_FOR_TASK' && localBytesFor(job, backup, { jobs }).bytes > (FARGATE_DISK_GIB.max * GIB) / 1.1 - 4 * GIB;
          }
          return plan.sizeInGiB >= FARGATE_DISK_GIB.min && plan.sizeInGiB <= FARGATE_DISK_GIB.max && plan.sizeInGiB * GIB >= plan.localBytes + 4 * GIB;
        },
      ),
    );
  });

  it('a single-job restore of any size up to 10 TiB is never refused', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 * TIB }), (bytes) => planTaskDisk('restore', { dumpBytes: bytes, compression: 'zstd', databaseBytes: bytes * 3 }, { jobs: 1 }).sizeInGiB === 21));
  });
});

describe('planTaskCompute', () => {
  it.each([
    [undefined, 1024, 2048],
    [0, 1024, 2048],
    [10 * GIB, 1024, 2048],
    [10 * GIB + 1, 2048, 4096],
    [500 * GIB, 4096, 8192],
    [1024 * GIB, 4096, 8192],
    [10 * TIB, 8192, 16384],
  ])('a database of %s bytes gets %d cpu units and %d MiB', (bytes, cpu, memory) => {
    expect(planTaskCompute(bytes)).toEqual({ cpu, memory });
  });

  it('every step is a cpu/memory pair Fargate accepts', () => {
    for (const step of COMPUTE_STEPS) expect(isFargatePair(step.compute), JSON.stringify(step)).toBe(true);
  });

  it('knows pairs Fargate refuses', () => {
    expect([isFargatePair({ cpu: 1024, memory: 1024 }), isFargatePair({ cpu: 8192, memory: 18432 }), isFargatePair({ cpu: 3072, memory: 8192 }), isFargatePair({ cpu: 256, memory: 1536 })]).toEqual([false, false, false, false]);
    expect([isFargatePair({ cpu: 256, memory: 512 }), isFargatePair({ cpu: 8192, memory: 20480 }), isFargatePair({ cpu: 4096, memory: 30720 })]).toEqual([true, true, true]);
  });

  it('taskResources gives the strings RunTask overrides take', () => {
    expect(taskResources({ cpu: 2048, memory: 4096 }, { path: 'download', localBytes: 1, sizeInGiB: 40 })).toEqual({ cpu: '2048', memory: '4096', containerMemory: 4096, ephemeralStorageGiB: 40 });
  });
});

describe('restoreJobsFor: the jobs of a restore the operator did not size', () => {
  it('2 when the dump fits the disk; 1 (streamed) when it does not; 2 for a parallel backup of any size, whose index builds then run in parallel', () => {
    expect(restoreJobsFor({ dumpBytes: 10 * GIB, compression: 'gzip', databaseBytes: 40 * GIB }, undefined)).toBe(2);
    expect(restoreJobsFor({ dumpBytes: 2 * TIB, compression: 'zstd', databaseBytes: 10 * TIB }, undefined)).toBe(1);
    expect(restoreJobsFor({ dumpBytes: 2 * TIB, compression: 'zstd', databaseBytes: 10 * TIB, postDataBytes: 300 * 1024 ** 2 }, undefined)).toBe(2);
    expect(restoreJobsFor({ dumpBytes: 2 * TIB, compression: 'zstd', postDataBytes: 300 * 1024 ** 2 }, 6)).toBe(6);
  });
});
