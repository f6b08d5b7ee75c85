/**
 * The steps of a restore drill around the restore itself: which backup it drills, and what it
 * leaves behind: the catalog's `lastValidation` and, on failure, an alert.
 */
import type { Catalog } from '../../ports/catalog';
import type { BackupEntry, ValidationResult } from '../../domain/backup';
import { isBackupId } from '../../domain/keys';
import { BackupNotFoundError, InputError, StrongboxError } from '../../errors';
import type { AlertPublisher, Clock, Log } from '../../ports';

/**
 * The backup a drill restores: `latest` is the newest VERIFIED full logical backup (of
 * `database` when given, of any database otherwise); an id must name a VERIFIED full
 * logical backup (of `database` when given). Entries retention is deleting are skipped or refused.
 *
 * @throws InputError for a malformed id or a backup of another kind, scope, database or state;
 *   BackupNotFoundError for an unknown id; a StrongboxError BACKUP_NOT_FOUND when `latest` finds
 *   nothing VERIFIED; CatalogError when the catalog cannot be read.
 */
export async function resolveDrillBackup(catalog: Catalog, backupId: string, database?: string): Promise<BackupEntry> {
  if (backupId === 'latest') {
    const entries = database === undefined ? await catalog.listAll({ kind: 'logical' }) : await catalog.listByDatabase(database, { kind: 'logical' });
    // Lists are newest first; an entry retention is deleting is no restore source any more.
    const newest = entries.find((e) => e.kind === 'logical' && e.scope === 'full' && e.state === 'VERIFIED' && !e.deleting && (database === undefined || e.database === database));
    if (newest) return newest;
    const of = database === undefined ? '' : ` of database "${database}"`;
    throw new StrongboxError(
      'BACKUP_NOT_FOUND',
      `no VERIFIED full logical backup${of} in the catalog to validate (it has ${entries.length} logical backup${entries.length === 1 ? '' : 's'}${of})`,
      `take one with \`strongbox backup${database === undefined ? '' : ` --database ${database}`}\`, or see what there is with \`strongbox list\``,
    );
  }
  if (!isBackupId(backupId)) throw new InputError(`${JSON.stringify(backupId)} is neither a backup id nor "latest"`, 'backup ids look like 20260102T030000Z-l-1a2b3c; `strongbox list` shows them');
  const backup = await catalog.get(backupId);
  if (!backup) throw new BackupNotFoundError(backupId);
  if (database !== undefined && backup.database !== database) {
    throw new InputError(`backup ${backupId} is of database "${backup.database}", not "${database}"`, `drop --database, or pass --database ${backup.database}`);
  }
  if (backup.kind !== 'logical' || backup.scope !== 'full') {
    throw new InputError(`backup ${backupId} is not a full logical backup`, 'the drill restores full logical backups: validate `latest`, or an id from `strongbox list`');
  }
  if (backup.deleting) throw new InputError(`backup ${backupId} is being deleted by retention (${backup.deleting.rule})`, 'validate `latest` instead');
  if (backup.state !== 'VERIFIED') {
    throw new InputError(
      `backup ${backupId} is ${backup.state}, not VERIFIED${backup.reason ? ` (${backup.reason})` : ''}`,
      backup.state === 'FAILED' ? 'a FAILED backup is known bad: validate `latest` instead' : 'wait until its checksum is verified (`strongbox list`), then validate it',
    );
  }
  return backup;
}

/** What `strongbox validate` checks: a restore drill of a full logical backup, or a read check of a base backup. */
export type ValidationKind = 'logical' | 'base';

/**
 * The backup `strongbox validate` checks: with an id, the backup it names (a base backup is
 * refused unless VERIFIED, of `database` and not being deleted; any other id as
 * resolveDrillBackup decides); `latest` of kind `base` is the newest VERIFIED base backup
 * (of `database` when given), `latest` of kind `logical` as resolveDrillBackup decides.
 *
 * @throws as resolveDrillBackup.
 */
export async function resolveValidationBackup(catalog: Catalog, backupId: string, database: string | undefined, kind: ValidationKind): Promise<BackupEntry> {
  if (backupId === 'latest' && kind === 'base') {
    const entries = database === undefined ? await catalog.listAll({ kind: 'base' }) : await catalog.listByDatabase(database, { kind: 'base' });
    const newest = entries.find((e) => e.kind === 'base' && e.state === 'VERIFIED' && !e.deleting);
    if (newest) return newest;
    const of = database === undefined ? '' : ` of database "${database}"`;
    throw new StrongboxError('BACKUP_NOT_FOUND', `no VERIFIED base backup${of} in the catalog to validate`, `take one with \`strongbox backup --type base${database === undefined ? '' : ` --database ${database}`}\`, or see what there is with \`strongbox list\``);
  }
  if (backupId === 'latest' || !isBackupId(backupId)) return resolveDrillBackup(catalog, backupId, database);
  const backup = await catalog.get(backupId);
  if (backup?.kind !== 'base') return resolveDrillBackup(catalog, backupId, database);
  if (database !== undefined && backup.database !== database) {
    throw new InputError(`backup ${backupId} is of database "${backup.database}", not "${database}"`, `drop --database, or pass --database ${backup.database}`);
  }
  if (backup.deleting) throw new InputError(`backup ${backupId} is being deleted by retention (${backup.deleting.rule})`, 'validate another base backup (`strongbox list`)');
  if (backup.state !== 'VERIFIED') {
    throw new InputError(
      `backup ${backupId} is ${backup.state}, not VERIFIED${backup.reason ? ` (${backup.reason})` : ''}`,
      backup.state === 'FAILED' ? 'a FAILED backup is known bad: recover from another base backup (`strongbox list`)' : 'wait until its checksum is verified (`strongbox list`), then validate it',
    );
  }
  return backup;
}

/** What recordOutcome needs. */
export interface OutcomeDeps {
  catalog: Catalog;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
}

/**
 * Sets the backup's `lastValidation` without touching its state. Never throws: a catalog
 * failure is logged and returned as a warning, because the drill's result stands anyway.
 */
export async function recordValidation(deps: OutcomeDeps, backup: BackupEntry, result: ValidationResult): Promise<string | undefined> {
  try {
    await deps.catalog.update(backup.id, { lastValidation: result });
    return undefined;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    deps.log.error('could not record the validation in the catalog', { backupId: backup.id, ok: result.ok, error: detail });
    return `the result could not be recorded in the catalog: ${detail}`;
  }
}

/** The VALIDATION_FAILED alert (SEV2) for a drill of `backup` that failed with `failure`. Never throws. */
export async function alertValidationFailed(deps: OutcomeDeps, backup: BackupEntry, failure: StrongboxError, what: string): Promise<void> {
  await deps.alerts.publish({
    type: 'VALIDATION_FAILED',
    severity: 'SEV2',
    message: `restore drill of backup ${backup.id} of database ${backup.database} ${what}: ${failure.message}`,
    hint: failure.hint,
    database: backup.database,
    backupId: backup.id,
    code: failure.code,
    at: deps.clock().toISOString(),
  });
}

/**
 * runRestore's errors carry a hint about what became of the target (here the scratch, which
 * nobody cares about): the hint of the error underneath is the one to act on.
 */
export function rootFailure(failure: StrongboxError): StrongboxError {
  const cause = failure.cause;
  return cause instanceof StrongboxError && cause.code === failure.code ? cause : failure;
}
