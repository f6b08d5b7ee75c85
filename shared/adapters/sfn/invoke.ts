/**
 * What the `sls invoke` functions that start a state machine share: their dependencies and the
 * catalog read a plan chooses from.
 */
import type { Catalog } from '../catalog/catalog';
import type { BackupEntry } from '../../domain/backup';
import { isBackupId } from '../../domain/keys';
import type { Clock, Log } from '../../ports';
import type { ExecutionStarter } from './executions';

/** The catalog to plan from, and the state machine to start. */
export interface InvokeDeps {
  catalog: Catalog;
  clock: Clock;
  log: Log;
  starter: ExecutionStarter;
}

/**
 * The catalog entries a plan chooses from: the database's logical backups (newest first) for
 * `latest`, else the one entry asked for (none for an unknown or malformed id: the plan says so).
 *
 * @throws CatalogError when the catalog cannot be read.
 */
export async function planCandidates(catalog: Catalog, backupId: string, database: string): Promise<BackupEntry[]> {
  if (backupId === 'latest') return catalog.listByDatabase(database, { kind: 'logical' });
  if (!isBackupId(backupId)) return [];
  const entry = await catalog.get(backupId);
  return entry ? [entry] : [];
}
