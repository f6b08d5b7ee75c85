/**
 * One rule for every reader of a backup (checksum function, restore, table restore, PITR,
 * `validate`, `catalog rebuild`): a read that proves the stored bytes are not what the
 * manifest declares makes the backup FAILED, with the reason, and raises one alert.
 */
import type { Catalog } from '../ports/catalog';
import type { BackupEntry } from '../domain/backup';
import { ConflictError, type StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';

/** What marking a backup damaged needs. */
export interface DamageDeps {
  catalog: Catalog;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
}

/**
 * True when `failure` proves the stored backup damaged: its bytes differ from the manifest
 * (CHECKSUM_MISMATCH, a short object included) or a declared object is gone
 * (OBJECT_NOT_FOUND). Storage or tool trouble proves nothing and answers false.
 */
export function provesDamage(failure: StrongboxError): boolean {
  return failure.code === 'CHECKSUM_MISMATCH' || failure.code === 'OBJECT_NOT_FOUND';
}

/**
 * Marks `backup` FAILED with `failure`'s message as the reason and publishes one SEV2
 * alert (CHECKSUM_MISMATCH, or BACKUP_INCOMPLETE for a missing object) naming the backup
 * and `during` (e.g. "at point-in-time recovery"). An entry already FAILED is left as it
 * is and not alerted again. Never throws: a catalog error is logged and the alert still
 * goes out. Returns true when this call made the entry FAILED.
 */
export async function markBackupDamaged(deps: DamageDeps, backup: BackupEntry, failure: StrongboxError, during: string): Promise<boolean> {
  let marked = false;
  try {
    await deps.catalog.transition(backup.id, 'FAILED', { reason: failure.message, errorCode: failure.code });
    marked = true;
  } catch (error) {
    if (error instanceof ConflictError) {
      // Another reader (or the checksum function) marked it first: it alerted then.
      deps.log.info('damaged backup already FAILED', { backupId: backup.id, code: failure.code });
      return false;
    }
    deps.log.error('could not mark the damaged backup FAILED', { backupId: backup.id, error: String(error) });
  }
  const missing = failure.code === 'OBJECT_NOT_FOUND';
  deps.log.error('backup proven damaged', { backupId: backup.id, database: backup.database, kind: backup.kind, code: failure.code, during, reason: failure.message });
  await deps.alerts.publish({
    type: missing ? 'BACKUP_INCOMPLETE' : 'CHECKSUM_MISMATCH',
    severity: 'SEV2',
    message: `${backup.kind} backup ${backup.id} of database ${backup.database} is damaged (found ${during}): ${failure.message}`,
    hint: failure.hint,
    database: backup.database,
    backupId: backup.id,
    code: failure.code,
    at: deps.clock().toISOString(),
  });
  return marked;
}
