/**
 * The drill benchmark's WAL: `pgbench -c 4 -j 2` a minute at a time, so that it can stop before
 * the disk fills. Unthrottled pgbench writes WAL fast (~2.2 GB a minute on the 2-core
 * benchmark host, fsync off), and the bench keeps it about 1.4 times (the plain copy and
 * Strongbox's zstd archive) with the recovered clusters beside it: an hour would be ~130 GB.
 */
import { statfs } from 'node:fs/promises';
import { runShell } from '../wal/shell';

/** The free space the load leaves on the work folder's disk, for the drills that follow. */
export const DISK_FLOOR_BYTES = 16 * 1024 ** 3;

/** What the load did: the minutes it ran, and the free space that stopped it early, if any. */
export interface LoadResult {
  minutes: number;
  stoppedWithFreeBytes?: number;
}

/**
 * Runs pgbench on `database` for up to `minutes` minutes, one minute at a time, stopping once
 * the disk under `work` has less than `floorBytes` free. Rejects with pgbench's failure or the
 * signal's reason.
 */
export async function pgbenchLoad(input: { minutes: number; work: string; env: NodeJS.ProcessEnv; database: string; signal: AbortSignal; floorBytes?: number; progress: (line: string) => void }): Promise<LoadResult> {
  const floor = input.floorBytes ?? DISK_FLOOR_BYTES;
  for (let minute = 0; minute < input.minutes; minute++) {
    const disk = await statfs(input.work);
    const free = disk.bavail * disk.bsize;
    if (free < floor) {
      input.progress(`pgbench stopped after ${minute} of ${input.minutes} min: ${(free / 1024 ** 3).toFixed(1)} GiB free under ${input.work}, the bench keeps ${(floor / 1024 ** 3).toFixed(0)} GiB for the drills`);
      return { minutes: minute, stoppedWithFreeBytes: free };
    }
    await runShell(`pgbench -c 4 -j 2 -T 60 -n ${input.database}`, input.env, input.signal);
  }
  return { minutes: input.minutes };
}
