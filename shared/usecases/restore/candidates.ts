import type { Catalog } from '../../ports/catalog';
import type { BackupEntry } from '../../domain/backup';
import { isBackupId } from '../../domain/keys';

/**
 * The catalog entries a restore plan chooses from: the database's logical backups (newest
 * first) for `latest`, else the one entry asked for (none for an unknown or malformed id: the
 * plan says so). Shared by restore, restore-table and the `sls invoke` functions.
 *
 * @throws CatalogError when the catalog cannot be read.
 */
export async function restoreCandidates(catalog: Catalog, backupId: string, database: string): Promise<BackupEntry[]> {
  if (backupId === 'latest') return catalog.listByDatabase(database, { kind: 'logical' });
  if (!isBackupId(backupId)) return [];
  const entry = await catalog.get(backupId);
  return entry ? [entry] : [];
}
