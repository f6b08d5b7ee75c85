import type { Catalog } from '../ports/catalog';
import type { Storage } from '../ports/storage';
import { isManifestKey } from '../domain/keys';
import { asStrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';
import { indexManifest } from './index-manifest';
import { rebuildWalIndex, type WalRebuildReport } from './rebuild-wal-index';
import type { WalCatalog } from '../ports/wal-catalog';
import type { WalCodec } from '../ports/wal-codec';
import { checkStoredSizes, verifyBackup } from './verify-backup';
import { markBackupDamaged } from './backup-damaged';
import { backfillWalView, hasWalView, type WalViewBackfillReport } from './backfill-wal-view';

export interface RebuildReport {
  manifests: number;
  created: number;
  alreadyKnown: number;
  verified: number;
  failed: number;
  /**
   * Backups found damaged in storage by this rebuild (a lost or truncated object, a
   * checksum that does not match): each is now FAILED, with an alert.
   */
  damaged: Array<{ backupId: string; reason: string }>;
  /** Manifests that could not be read, with the reason. */
  unreadable: Array<{ key: string; reason: string }>;
  /** Backup folders with data but no manifest: a backup that never completed. */
  incomplete: string[];
  /** The WAL index rebuilt from the WAL records (when a WAL catalog was given). */
  wal?: WalRebuildReport;
  /** The catalog's WAL view filled for every database with WAL or backups, and marked complete (when the WAL catalog has one). */
  walView?: WalViewBackfillReport;
}

/**
 * Rebuilds the catalog from the manifests in storage (the storage is the truth). Every
 * manifest is indexed; with `verify`, every backup not yet final is checksummed as the
 * checksum function would, and every VERIFIED one has its objects' sizes checked (a lost
 * or truncated object makes it FAILED, with an alert, and is listed in `damaged`). Entries already in the catalog are kept as they are. With a
 * `walCatalog`, the WAL index is rebuilt too, from the WAL records (rebuild-wal-index.ts).
 */
export async function rebuildCatalog(
  deps: { storage: Storage; catalog: Catalog; walCatalog?: WalCatalog; alerts: AlertPublisher; log: Log; clock: Clock; codec?: WalCodec },
  options: { verify: boolean },
): Promise<RebuildReport> {
  const report: RebuildReport = { manifests: 0, created: 0, alreadyKnown: 0, verified: 0, failed: 0, damaged: [], unreadable: [], incomplete: [] };
  const folders = new Map<string, boolean>();
  for (const prefix of ['logical/', 'base/']) {
    for await (const object of deps.storage.list(prefix)) {
      const folder = object.key.slice(0, object.key.lastIndexOf('/') + 1);
      if (!folders.has(folder)) folders.set(folder, false);
      if (!isManifestKey(object.key)) continue;
      folders.set(folder, true);
      report.manifests += 1;
      try {
        const { entry, manifest, created } = await indexManifest(deps, object.key);
        if (created) report.created += 1;
        else report.alreadyKnown += 1;
        let final = options.verify ? await verifyBackup(deps, object.key) : entry;
        if (options.verify && entry.state === 'VERIFIED') {
          // verifyBackup leaves a final entry alone: storage may have lost bytes since.
          const damage = await checkStoredSizes(deps.storage, manifest, entry.id);
          if (damage) {
            await markBackupDamaged(deps, entry, damage, 'by catalog rebuild');
            final = (await deps.catalog.get(entry.id)) ?? entry;
          }
        }
        if (final.state === 'FAILED' && entry.state !== 'FAILED') report.damaged.push({ backupId: final.id, reason: final.reason ?? 'failed verification' });
        if (final.state === 'VERIFIED') report.verified += 1;
        if (final.state === 'FAILED') report.failed += 1;
      } catch (error) {
        const failure = asStrongboxError(error);
        report.unreadable.push({ key: object.key, reason: failure.message });
        deps.log.warn('manifest skipped during rebuild', { key: object.key, code: failure.code });
      }
    }
  }
  report.incomplete = [...folders].filter(([, complete]) => !complete).map(([folder]) => folder);
  if (deps.walCatalog) report.wal = await rebuildWalIndex({ ...deps, walCatalog: deps.walCatalog });
  if (deps.walCatalog && report.wal && hasWalView(deps.walCatalog)) {
    // Items written before the catalog had its WAL view join it; every database in storage or in the backups is named.
    const cataloged = (await deps.catalog.listAll({ pageSize: 1000 })).map((entry) => entry.database);
    report.walView = await backfillWalView({ walView: deps.walCatalog, log: deps.log, clock: deps.clock }, [...report.wal.databases, ...cataloged]);
  }
  const { wal, walView, ...backups } = report;
  deps.log.info('catalog rebuilt', { ...backups, damaged: report.damaged.length, unreadable: report.unreadable.length, incomplete: report.incomplete.length, ...(wal ? { walRecords: wal.records, walCreated: wal.created, walSkipped: wal.skippedCount, walDatabases: wal.databases.length } : {}), ...(walView ? { walViewItems: walView.items, walViewComplete: walView.complete } : {}) });
  return report;
}
