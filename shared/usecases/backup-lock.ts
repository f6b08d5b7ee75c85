import type { Catalog } from '../ports/catalog';
import { isFinal, type BackupEntry } from '../domain/backup';
import { describeRunner, judgeLockHolder, LOCK_FORCED, lockExpiresAt, parseLocalRunner } from '../domain/backup-lock';
import { AlreadyRunningError, ConflictError, type LockHolderDescription } from '../errors';
import type { Log, ProcessProbe } from '../ports';

/** The lock that keeps two dumps of one database from running at once. */
export function lockName(kind: string, database: string): string {
  return `${kind}:${database}`;
}

/** The command that releases the lock of `kind` on `database`, as hints name it. */
export function forceCommand(kind: string, database: string): string {
  return `strongbox backup --database ${database}${kind === 'base' ? ' --type base' : ''} --force`;
}

/** Whether the holder's process is alive, when it is a process on this host; otherwise undefined. */
function localRunnerAlive(entry: BackupEntry | undefined, processes: ProcessProbe | undefined): boolean | undefined {
  const local = parseLocalRunner(entry?.runner);
  if (!local || !processes || local.host !== processes.hostname) return undefined;
  return processes.isAlive(local.pid);
}

function describeHolder(owner: string, entry: BackupEntry | undefined, staleAfterMs: number): LockHolderDescription {
  const expiresAt = entry ? lockExpiresAt(entry, staleAfterMs) : undefined;
  return {
    backupId: owner,
    runner: describeRunner(entry?.runner),
    ...(entry ? { state: entry.state, heartbeatAt: entry.heartbeatAt } : {}),
    ...(expiresAt ? { expiresAt } : {}),
  };
}

/**
 * Takes the backup lock of `database` for backup `owner`. A lock left by a backup that
 * is final or missing from the catalog is taken over; so is one left by a RUNNING backup
 * whose writer is gone: a process on this host that is no longer alive (asked through
 * `processes`, at once), or any writer whose heartbeat is older than `staleAfterMs`. That
 * entry is marked FAILED first (RUNNER_GONE or HEARTBEAT_LOST). Throws AlreadyRunningError,
 * naming the holder and when its lock expires, when a live backup holds it.
 */
export async function acquireBackupLock(
  deps: { catalog: Catalog; log: Log; processes?: ProcessProbe },
  input: { kind: string; database: string; owner: string; now: Date; staleAfterMs: number },
): Promise<void> {
  const name = lockName(input.kind, input.database);
  const at = input.now.toISOString();
  let refusal: LockHolderDescription | undefined;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await deps.catalog.acquireLock(name, input.owner, at)) return;
    const holder = await deps.catalog.getLock(name);
    if (!holder) continue;
    if (holder.owner === input.owner) return;
    const entry = await deps.catalog.get(holder.owner);
    const judged = judgeLockHolder(entry, { now: input.now, staleAfterMs: input.staleAfterMs, runnerAlive: localRunnerAlive(entry, deps.processes) });
    if (judged.verdict === 'live') throw new AlreadyRunningError(input.database, describeHolder(holder.owner, entry, input.staleAfterMs), forceCommand(input.kind, input.database));
    if (entry && judged.verdict === 'dead') {
      await deps.catalog.transition(entry.id, 'FAILED', { reason: judged.reason, errorCode: judged.errorCode, finishedAt: at }).catch(() => undefined);
      deps.log.warn('took over the lock of a backup whose writer stopped', { backupId: entry.id, lock: name, code: judged.errorCode, reason: judged.reason });
    }
    if (await deps.catalog.acquireLock(name, input.owner, at, holder.owner)) return;
    refusal = describeHolder(holder.owner, entry, input.staleAfterMs);
  }
  throw new AlreadyRunningError(input.database, refusal ?? { backupId: 'unknown', runner: describeRunner(undefined) }, forceCommand(input.kind, input.database));
}

/** The backup holding a lock, and its catalog entry when it has one. */
export interface BackupLockHolder {
  backupId: string;
  entry?: BackupEntry;
  description: LockHolderDescription;
}

/** Who holds the backup lock of `kind` on `database`, or undefined when it is free. */
export async function readBackupLock(deps: { catalog: Catalog }, input: { kind: string; database: string; staleAfterMs: number }): Promise<BackupLockHolder | undefined> {
  const holder = await deps.catalog.getLock(lockName(input.kind, input.database));
  if (!holder) return undefined;
  const entry = await deps.catalog.get(holder.owner);
  return { backupId: holder.owner, ...(entry ? { entry } : {}), description: describeHolder(holder.owner, entry, input.staleAfterMs) };
}

/**
 * Releases the backup lock of `kind` on `database` whoever holds it (`strongbox backup
 * --force`, confirmed by an operator): the holder's entry, unless final, is marked FAILED
 * (LOCK_FORCED) first, so that its writer, if it still runs, stops at its next heartbeat.
 * Returns the holder released, or undefined when the lock was free. Throws CatalogError.
 */
export async function forceReleaseBackupLock(
  deps: { catalog: Catalog; log: Log },
  input: { kind: string; database: string; now: Date; staleAfterMs: number },
): Promise<BackupLockHolder | undefined> {
  const holder = await readBackupLock(deps, input);
  if (!holder) return undefined;
  if (holder.entry && !isFinal(holder.entry.state)) {
    const reason = `its lock was released by \`${forceCommand(input.kind, input.database)}\` while it was ${holder.entry.state} (${holder.description.runner})`;
    try {
      await deps.catalog.transition(holder.backupId, 'FAILED', { reason, errorCode: LOCK_FORCED, finishedAt: input.now.toISOString() });
    } catch (error) {
      // It became final meanwhile: nothing to mark, the lock is released all the same.
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  await deps.catalog.releaseLock(lockName(input.kind, input.database), holder.backupId);
  deps.log.warn('backup lock released by force', { backupId: holder.backupId, lock: lockName(input.kind, input.database), state: holder.entry?.state ?? 'missing', runner: holder.description.runner });
  return holder;
}
