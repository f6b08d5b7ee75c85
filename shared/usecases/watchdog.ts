import type { Catalog } from '../adapters/catalog/catalog';
import { staleRunning, type BackupEntry } from '../domain/backup';
import { ConflictError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';

/**
 * Marks FAILED every RUNNING backup whose task stopped heart-beating for longer than
 * `staleAfterMs`, with the reason, and alerts. Returns the entries it failed. A backup
 * that finished meanwhile (lost condition) is left alone.
 */
export async function failStaleBackups(
  deps: { catalog: Catalog; alerts: AlertPublisher; log: Log; clock: Clock },
  staleAfterMs: number,
): Promise<BackupEntry[]> {
  const now = deps.clock();
  const failed: BackupEntry[] = [];
  for (const entry of staleRunning(await deps.catalog.listByState('RUNNING'), now, staleAfterMs)) {
    const reason = `no heartbeat since ${entry.heartbeatAt}: the task running it stopped (${entry.runner ?? 'unknown runner'})`;
    try {
      failed.push(await deps.catalog.transition(entry.id, 'FAILED', { reason, errorCode: 'HEARTBEAT_LOST', finishedAt: now.toISOString() }));
    } catch (error) {
      if (error instanceof ConflictError) continue;
      throw error;
    }
    deps.log.warn('stale backup marked FAILED', { backupId: entry.id, database: entry.database, heartbeatAt: entry.heartbeatAt });
    await deps.alerts.publish({
      type: 'BACKUP_STALLED',
      severity: 'SEV2',
      message: `backup ${entry.id} of database ${entry.database} stopped: ${reason}`,
      hint: 'look at the task logs; the next scheduled run will try again, or run `strongbox backup` now',
      database: entry.database,
      backupId: entry.id,
      code: 'HEARTBEAT_LOST',
      at: now.toISOString(),
    });
  }
  return failed;
}
