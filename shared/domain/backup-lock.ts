/**
 * Who holds a backup lock, and whether it may be taken over. Pure: the caller reads the
 * catalog, the clock and (locally) whether a process is alive, and passes them in.
 */
import { isFinal, type BackupEntry } from './backup';

/** The entry code of a backup whose writer stopped heart-beating (watchdog and lock takeover). */
export const HEARTBEAT_LOST = 'HEARTBEAT_LOST';
/** The entry code of a backup whose local process is gone (its lock was taken over at once). */
export const RUNNER_GONE = 'RUNNER_GONE';
/** The entry code of a backup whose lock an operator released (`strongbox backup --force`). */
export const LOCK_FORCED = 'LOCK_FORCED';

/** A writer running on this kind of host: a process, named by its pid and host name. */
export interface LocalRunner {
  pid: number;
  host: string;
}

/** The `runner` of a backup written by local process `pid` on `host`: `pid:1234@host`. */
export function localRunner(pid: number, host: string): string {
  return `pid:${pid}@${host}`;
}

/**
 * The process behind a `runner` written by localRunner, or undefined for anything else (an
 * ECS task, `launching`, an old `pid:N` without its host: nobody can tell where it ran).
 */
export function parseLocalRunner(runner: string | undefined): LocalRunner | undefined {
  const match = /^pid:([1-9]\d*)@(.+)$/.exec(runner ?? '');
  if (!match) return undefined;
  return { pid: Number(match[1]), host: match[2]! };
}

/** A runner for people: `pid 1234 on host`, `task ecs:ip-10-0-0-1`, or `unknown runner`. */
export function describeRunner(runner: string | undefined): string {
  const local = parseLocalRunner(runner);
  if (local) return `pid ${local.pid} on ${local.host}`;
  if (!runner) return 'unknown runner';
  return /^pid:\d+$/.test(runner) ? `process ${runner.slice(4)} (host not recorded)` : `task ${runner}`;
}

/**
 * When a live holder's lock may be taken over if it stops heart-beating: its last heartbeat
 * plus `staleAfterMs` (ISO-8601 UTC). Undefined for an entry past RUNNING (UPLOADED: its
 * lock goes once its checksum makes it final).
 */
export function lockExpiresAt(entry: BackupEntry, staleAfterMs: number): string | undefined {
  if (entry.state !== 'RUNNING') return undefined;
  return new Date(Date.parse(entry.heartbeatAt) + staleAfterMs).toISOString();
}

/**
 * What to do with a lock held by `entry` (undefined: no such entry in the catalog):
 * - `free`: the holder is gone (no entry, or a final one): take the lock over, mark nothing;
 * - `dead`: the holder is RUNNING but its writer is gone (its local process is dead, or no
 *   heartbeat for longer than `staleAfterMs`): mark it FAILED with `reason` and `errorCode`,
 *   then take the lock over;
 * - `live`: refuse; `expiresAt` says when it could be taken over if its heartbeat stops.
 *
 * `runnerAlive` is whether the holder's local process is alive, when that is known (its
 * runner is a process on this host), and undefined otherwise.
 */
export type HolderVerdict =
  | { verdict: 'free' }
  | { verdict: 'dead'; reason: string; errorCode: typeof HEARTBEAT_LOST | typeof RUNNER_GONE }
  | { verdict: 'live'; expiresAt?: string };

/** Judges a lock's holder; see HolderVerdict. */
export function judgeLockHolder(entry: BackupEntry | undefined, facts: { now: Date; staleAfterMs: number; runnerAlive?: boolean }): HolderVerdict {
  if (!entry || isFinal(entry.state)) return { verdict: 'free' };
  if (entry.state === 'RUNNING') {
    if (facts.runnerAlive === false) {
      return { verdict: 'dead', reason: `its process is gone (${describeRunner(entry.runner)}): it stopped without finishing`, errorCode: RUNNER_GONE };
    }
    if (facts.now.getTime() - Date.parse(entry.heartbeatAt) > facts.staleAfterMs) {
      return { verdict: 'dead', reason: `no heartbeat since ${entry.heartbeatAt}: its task stopped`, errorCode: HEARTBEAT_LOST };
    }
  }
  const expiresAt = lockExpiresAt(entry, facts.staleAfterMs);
  return { verdict: 'live', ...(expiresAt ? { expiresAt } : {}) };
}
