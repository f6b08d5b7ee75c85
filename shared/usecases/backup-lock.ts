import type { Catalog } from '../adapters/catalog/catalog';
import { isFinal } from '../domain/backup';
import { AlreadyRunningError } from '../errors';
import type { Log } from '../ports';

/** The lock that keeps two dumps of one database from running at once. */
export function lockName(kind: string, database: string): string {
  return `${kind}:${database}`;
}

/**
 * Takes the backup lock of `database` for backup `owner`. A lock left by a backup that
 * is final, missing from the catalog, or RUNNING with a heartbeat older than
 * `staleAfterMs` (its task died) is taken over; the stale entry is marked FAILED first.
 * Throws AlreadyRunningError when a live backup holds it.
 */
export async function acquireBackupLock(
  deps: { catalog: Catalog; log: Log },
  input: { kind: string; database: string; owner: string; now: Date; staleAfterMs: number },
): Promise<void> {
  const name = lockName(input.kind, input.database);
  const at = input.now.toISOString();
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await deps.catalog.acquireLock(name, input.owner, at)) return;
    const holder = await deps.catalog.getLock(name);
    if (!holder) continue;
    if (holder.owner === input.owner) return;
    const entry = await deps.catalog.get(holder.owner);
    const stale = entry?.state === 'RUNNING' && input.now.getTime() - Date.parse(entry.heartbeatAt) > input.staleAfterMs;
    if (entry && !isFinal(entry.state) && !stale) throw new AlreadyRunningError(input.database, holder.owner);
    if (entry && stale) {
      await deps.catalog
        .transition(entry.id, 'FAILED', { reason: `no heartbeat since ${entry.heartbeatAt}: its task stopped`, errorCode: 'HEARTBEAT_LOST' })
        .catch(() => undefined);
      deps.log.warn('took over the lock of a backup whose task stopped', { backupId: entry.id, lock: name });
    }
    if (await deps.catalog.acquireLock(name, input.owner, at, holder.owner)) return;
  }
  const holder = await deps.catalog.getLock(name);
  throw new AlreadyRunningError(input.database, holder?.owner ?? 'unknown');
}
