/**
 * Helpers for restore-drill tests: a throwaway-server factory that remembers where it started
 * each server, a look for a postmaster still running on a data folder, and a damaged dump.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { Storage } from '../../shared/ports/storage';
import { pgValidationDeps } from '../../shared/runtime/validate-tools';
import type { StartThrowaway, ThrowawayOptions } from '../../shared/usecases/validate';

/** The real factory, recording every request (data folder, password, fast mode). */
export function recordingClusters(): { start: StartThrowaway; started: ThrowawayOptions[] } {
  const started: ThrowawayOptions[] = [];
  return {
    started,
    start: (options) => {
      started.push(options);
      return pgValidationDeps.startCluster(options);
    },
  };
}

/** The PIDs of processes whose command line names `dataDir` (a postmaster started with -D). */
export async function processesOn(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

/** Flips one bit in the middle of the stored object `key`, as a damaged disk would. */
export async function flipByte(storage: Storage, key: string): Promise<void> {
  const bytes = await storage.getBytes(key);
  const at = bytes.length >> 1;
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
  await storage.putBytes(key, bytes);
}
