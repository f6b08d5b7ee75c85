import type { Catalog } from '../ports/catalog';
import type { ArchiveStatus, RestorePoint, WalCatalog } from '../ports/wal-catalog';
import type { WalDatabaseMeta } from '../ports/wal-view';
import type { Storage } from '../ports/storage';
import type { BackupEntry } from '../domain/backup';
import { databaseStatus, type DatabaseStatus } from '../domain/status';
import type { Log } from '../ports';
import { inPool } from '../domain/in-pool';
import { asStrongboxError } from '../errors';
import { liveTimelineOf } from './live-timeline';
import { readEndTimes, readWalViewParts, type ReadCount, type WalViewParts } from './status/wal-view';

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
/** From this many databases on, their backups come from one listing of every backup instead of one Query each. */
export const LIST_ALL_FROM = 2;
/** Backups per page of that listing (DynamoDB also stops a page at 1 MB). */
const LIST_ALL_PAGE = 1000;

/**
 * The backups of each of `databases`, newest first: one Query on the database's index for
 * one database; for more, one paged listing of every backup (~2 requests for 200 databases
 * of ~14 backups instead of 200 Queries), grouped here. The listing holds every backup in
 * memory at once: ~2,800 entries of a few hundred bytes for 200 databases (measured by
 * `npm run bench:catalog`).
 */
async function backupsOf(deps: StatusDeps, databases: readonly string[], reads: ReadCount): Promise<(database: string) => Promise<BackupEntry[]>> {
  if (databases.length < LIST_ALL_FROM) {
    return async (database) => {
      const backups = await deps.catalog.listByDatabase(database);
      reads.requests += 1;
      reads.items += backups.length;
      return backups;
    };
  }
  const wanted = new Set(databases);
  const grouped = new Map<string, BackupEntry[]>(databases.map((database) => [database, []]));
  const all = await deps.catalog.listAll({ pageSize: LIST_ALL_PAGE });
  reads.requests += Math.max(1, Math.ceil(all.length / LIST_ALL_PAGE));
  for (const entry of all) {
    if (!wanted.has(entry.database)) continue;
    grouped.get(entry.database)!.push(entry);
    reads.items += 1;
  }
  return async (database) => grouped.get(database)!;
}

/** What one database's status is computed from, once the records its WAL view wants are read (readEndTimes). */
interface StatusInput {
  database: string;
  backups: BackupEntry[];
  archiveStatus?: ArchiveStatus;
  restorePoints: RestorePoint[];
  wal?: WalViewParts;
}

/**
 * The WAL metadata, restore points and ranges of every database at once from the catalog's
 * WAL view (a few paged Queries on the backups' index, whatever the number of databases),
 * when there are several databases and the view is complete; otherwise undefined, and each
 * database is read on its own keys (readInput). The view is eventually consistent, like the
 * listing of every backup beside it; one database alone is always read on its own keys.
 */
async function metasOf(deps: StatusDeps, databases: readonly string[], reads: ReadCount): Promise<Map<string, WalDatabaseMeta> | undefined> {
  if (databases.length < LIST_ALL_FROM || !deps.walCatalog.readViews) return undefined;
  try {
    const view = await deps.walCatalog.readViews(new Set(databases));
    reads.requests += view.requests;
    reads.items += view.items;
    return view.complete ? view.databases : undefined;
  } catch (error) {
    // A faster path, never a new way to fail: each database's own keys answer the same.
    const failure = asStrongboxError(error);
    deps.log.warn('status: the WAL view cannot be read: each database is read on its own keys', { code: failure.code, reason: failure.message });
    return undefined;
  }
}

async function readInput(deps: StatusDeps, database: string, backups: BackupEntry[], reads: ReadCount, fromView?: WalDatabaseMeta): Promise<StatusInput> {
  let meta: Pick<WalDatabaseMeta, 'timelines' | 'archiveStatus' | 'restorePoints'> & { ranges?: WalDatabaseMeta['ranges'] };
  if (fromView) meta = fromView;
  else {
    // The archive status and the timelines (one Query on the database's metadata partition) and the restore points (one Query), at once.
    const [read, restorePoints] = await Promise.all([deps.walCatalog.readMeta(database), deps.walCatalog.listRestorePoints(database)]);
    reads.requests += 2;
    reads.items += (read.archiveStatus ? 1 : 0) + read.timelines.length + (read.retentionMark === undefined ? 0 : 1) + restorePoints.length;
    meta = { timelines: read.timelines, restorePoints, ...(read.archiveStatus ? { archiveStatus: read.archiveStatus } : {}) };
  }
  const { archiveStatus, restorePoints } = meta;
  const wal = await readWalViewParts(deps, database, backups, reads, liveTimelineOf(archiveStatus, backups), meta.timelines, meta.ranges);
  return { database, backups, restorePoints, ...(archiveStatus ? { archiveStatus } : {}), ...(wal ? { wal } : {}) };
}

function statusOf(deps: StatusDeps, input: StatusInput, now: Date): DatabaseStatus {
  const { database, backups, archiveStatus, restorePoints } = input;
  const status = databaseStatus({ database, backups, ...(input.wal ? { wal: input.wal.view } : {}), ...(archiveStatus ? { archiveStatus } : {}), restorePoints }, now);
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
 * database's backups (one Query on its index; for several databases, one paged listing of
 * every backup on the backups' index, see backupsOf), its archiver status and WAL timelines (one
 * Query on its metadata partition), its named restore points (one Query) and the ranges of
 * its timelines (one Query each) — for several databases all of these from the catalog's WAL
 * view instead (see metasOf: ~10 requests for 200 databases) —, the rest of the WAL view
 * (see readWalView; the records it wants of every database read together at the end,
 * BatchGetItem); never a Scan. Logs one INFO line per database.
 *
 * @throws CatalogError / StorageError when the catalog or a history file cannot be read.
 */
export async function readStatus(deps: StatusDeps, request: { databases: readonly string[]; now: Date }): Promise<StatusReport> {
  const reads: ReadCount = { requests: 0, items: 0 };
  const inputs = new Array<StatusInput>(request.databases.length);
  const [backupsFor, metas] = await Promise.all([backupsOf(deps, request.databases, reads), metasOf(deps, request.databases, reads)]);
  // Databases are independent: several read at once (200 one after another would take 200 round trips times ~4).
  await inPool([...request.databases.keys()], STATUS_CONCURRENCY, async (index) => {
    const database = request.databases[index]!;
    inputs[index] = await readInput(deps, database, await backupsFor(database), reads, metas?.get(database));
  });
  // The records where a timeline switch or a base backup cuts a range, of every database at once (BatchGetItem).
  await readEndTimes(deps.walCatalog, inputs.flatMap((input) => (input.wal ? [input.wal] : [])), reads);
  return { at: request.now.toISOString(), databases: inputs.map((input) => statusOf(deps, input, request.now)), reads };
}
