import type { Catalog } from '../adapters/catalog/catalog';
import type { WalCatalog } from '../adapters/catalog/wal-catalog';
import type { Storage } from '../adapters/storage/storage';
import { databaseStatus, type DatabaseStatus } from '../domain/status';
import type { Log } from '../ports';
import { inPool } from '../adapters/catalog/batch-pool';
import { liveTimelineOf } from './live-timeline';
import { readWalView, type ReadCount } from './status/wal-view';

export interface StatusDeps {
  catalog: Catalog;
  walCatalog: WalCatalog;
  storage: Storage;
  log: Log;
}

/** `strongbox status`: one entry per database, and how much of the catalog was read. */
export interface StatusReport {
  at: string;
  databases: DatabaseStatus[];
  reads: ReadCount;
}

/** Databases whose status is read at once. */
const STATUS_CONCURRENCY = 8;

async function databaseStatusOf(deps: StatusDeps, database: string, now: Date, reads: ReadCount): Promise<DatabaseStatus> {
  const backups = await deps.catalog.listByDatabase(database);
  reads.requests += 1;
  reads.items += backups.length;
  // The archive status and the timelines: one Query on the database's metadata partition.
  const meta = await deps.walCatalog.readMeta(database);
  const archiveStatus = meta.archiveStatus;
  reads.requests += 1;
  reads.items += (archiveStatus ? 1 : 0) + meta.timelines.length + (meta.retentionMark === undefined ? 0 : 1);
  const live = liveTimelineOf(archiveStatus, backups);
  const wal = await readWalView(deps, database, backups, reads, live, meta.timelines);
  const restorePoints = await deps.walCatalog.listRestorePoints(database);
  reads.requests += 1;
  reads.items += restorePoints.length;
  const status = databaseStatus({ database, backups, ...(wal ? { wal } : {}), ...(archiveStatus ? { archiveStatus } : {}), restorePoints }, now);
  deps.log.info('status computed', {
    database,
    logicalFrom: status.logical.from,
    logicalTo: status.logical.to,
    pitrFrom: status.pitr.from,
    pitrTo: status.pitr.to,
    gaps: status.pitr.gaps.length,
    warnings: status.warnings.length,
  });
  return status;
}

/**
 * The restore window and health of each database at `now`, several databases at once
 * (the report keeps their order). Reads by keys only: the
 * database's backups (one Query on its index), its archiver status and WAL timelines (one
 * Query on its metadata partition), the rest of the WAL view (see readWalView) and its named restore points (one Query); never a Scan. Logs one INFO line per database.
 *
 * @throws CatalogError / StorageError when the catalog or a history file cannot be read.
 */
export async function readStatus(deps: StatusDeps, request: { databases: readonly string[]; now: Date }): Promise<StatusReport> {
  const reads: ReadCount = { requests: 0, items: 0 };
  const databases: DatabaseStatus[] = new Array<DatabaseStatus>(request.databases.length);
  // Databases are independent: several read at once (200 one after another would take 200 round trips times ~8).
  await inPool([...request.databases.keys()], STATUS_CONCURRENCY, async (index) => {
    databases[index] = await databaseStatusOf(deps, request.databases[index]!, request.now, reads);
  });
  return { at: request.now.toISOString(), databases, reads };
}
