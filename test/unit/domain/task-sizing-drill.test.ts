import { describe, expect, it } from 'vitest';
import { DISK_RESERVE_BYTES, FARGATE_DISK_GIB, physicalDrillBytes, planDrillDisk, planTaskDisk } from '../../../shared/domain/task-sizing';
import { sizeDrill } from '../../../shared/usecases/restore/resources';

const GIB = 1024 ** 3;

describe('the physical drill\'s task disk: from the base backup and the WAL replayed, not the logical dump', () => {
  it('an uncompressed base backup: its size, plus the WAL replayed, plus the cluster\'s own WAL', () => {
    expect(physicalDrillBytes({ baseBytes: 30 * GIB, baseCompressed: false, walBytes: 5 * GIB })).toBe(37 * GIB);
  });

  it('a compressed base backup unpacks 4 × larger; never less than the drilled database', () => {
    expect(physicalDrillBytes({ baseBytes: 10 * GIB, baseCompressed: true, walBytes: 0 })).toBe(42 * GIB);
    expect(physicalDrillBytes({ baseBytes: 10 * GIB, baseCompressed: true, databaseBytes: 60 * GIB, walBytes: GIB })).toBe(63 * GIB);
  });

  it('the disk: reserve and 10 % margin on top, whole GiB, at least 21', () => {
    expect(planDrillDisk({ baseBytes: 30 * GIB, baseCompressed: false, walBytes: 5 * GIB })).toEqual({ path: 'download', localBytes: 37 * GIB, sizeInGiB: Math.ceil(((37 * GIB + DISK_RESERVE_BYTES) * 1.1) / GIB) });
    expect(planDrillDisk({ baseBytes: GIB, baseCompressed: false, walBytes: 0 }).sizeInGiB).toBe(FARGATE_DISK_GIB.min);
  });

  it('differs from the logical drill\'s sizing: a small dump of a big cluster gets the cluster\'s disk', () => {
    const logical = planTaskDisk('validate', { dumpBytes: GIB, compression: 'zstd', databaseBytes: 4 * GIB }, { jobs: 1, scratchInTask: true });
    const physical = planDrillDisk({ baseBytes: 40 * GIB, baseCompressed: false, databaseBytes: 4 * GIB, walBytes: 8 * GIB });
    expect(physical.sizeInGiB).toBeGreaterThan(logical.sizeInGiB);
    expect(physical.sizeInGiB).toBe(Math.ceil(((50 * GIB + DISK_RESERVE_BYTES) * 1.1) / GIB));
  });

  it('over 200 GiB: BACKUP_TOO_LARGE_FOR_TASK naming the base backup and the WAL, nothing started', () => {
    expect(() => planDrillDisk({ baseBytes: 150 * GIB, baseCompressed: false, walBytes: 40 * GIB })).toThrow(expect.objectContaining({ code: 'BACKUP_TOO_LARGE_FOR_TASK', message: expect.stringContaining('40.0 GiB of WAL replayed'), hint: expect.stringContaining('newer base backup') }));
  });

  it('the resources the state machine takes: the disk, and vCPU/memory by the recovered cluster', () => {
    expect(sizeDrill({ baseBytes: 40 * GIB, baseCompressed: false, walBytes: 8 * GIB }).resources).toEqual({ cpu: '2048', memory: '4096', containerMemory: 4096, ephemeralStorageGiB: Math.ceil(((50 * GIB + DISK_RESERVE_BYTES) * 1.1) / GIB) });
  });
});
