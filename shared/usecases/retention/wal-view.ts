/**
 * Reads what the planner needs of each database's WAL archive — timeline summaries, the
 * history of the timelines in the PITR window, a pending deletion mark, restore points —
 * by Query and GetItem on keys. The segments themselves are not read to plan.
 */
import type { WalCatalog } from '../../ports/wal-catalog';
import type { WalDatabaseMeta } from '../../ports/wal-view';
import type { Storage } from '../../ports/storage';
import { timelinesInWindow } from '../../domain/retention/pitr-window';
import type { RestorePointView, WalDatabaseView, WalRetentionMark } from '../../domain/retention';
import { parseHistory, timelinePath, type TimelineSegment } from '../../domain/wal/history';
import { asStrongboxError } from '../../errors';
import type { Log } from '../../ports';
import { inPool } from '../../domain/in-pool';
import { readArchivedHistory } from '../wal-history';

/** What the WAL catalog gave for the planner; databases it could not read are missing (their base backups are then kept). */
export interface WalInput {
  views: WalDatabaseView[];
  restorePoints: RestorePointView[];
  /** Databases whose WAL could not be read, and why. */
  unreadable: Array<{ database: string; message: string }>;
  /** True when every database's metadata came from the catalog's WAL view (readWalMetas). */
  viaView?: boolean;
}

/**
 * Every database's WAL metadata and restore points at once from the catalog's WAL view (a
 * few paged Queries, whatever the number of databases), with whether the view is complete
 * (else the plan reads database by database) and the databases it holds. Undefined when the
 * catalog has no view or it cannot be read (logged: the plan reads database by database).
 */
export async function readWalMetas(deps: { walCatalog: WalCatalog; log: Log }): Promise<{ complete: boolean; databases: Map<string, WalDatabaseMeta> } | undefined> {
  if (!deps.walCatalog.readViews) return undefined;
  try {
    const view = await deps.walCatalog.readViews();
    return { complete: view.complete, databases: view.databases };
  } catch (error) {
    const failure = asStrongboxError(error);
    deps.log.warn('retention: the WAL view cannot be read: each database is read on its own keys', { code: failure.code, reason: failure.message });
    return undefined;
  }
}

async function pathTo(deps: { storage: Storage; walCatalog: WalCatalog; log: Log }, database: string, timeline: number): Promise<readonly TimelineSegment[] | undefined> {
  if (timeline === 1) return timelinePath(1, []);
  try {
    const text = await readArchivedHistory(deps, database, timeline);
    if (text === undefined) {
      deps.log.warn('retention: a timeline has no archived history: its WAL is kept', { database, timeline });
      return undefined;
    }
    return timelinePath(timeline, parseHistory(text, timeline));
  } catch (error) {
    const failure = asStrongboxError(error);
    deps.log.warn('retention: a timeline history cannot be read: its WAL is kept', { database, timeline, code: failure.code, reason: failure.message });
    return undefined;
  }
}

/** Databases whose WAL view is read at once. */
const READ_CONCURRENCY = 8;

/** Reads the WAL view and restore points of one database. Throws CatalogError / StorageError. */
async function readOne(deps: { storage: Storage; walCatalog: WalCatalog; log: Log }, database: string, windowStart: number, fromView?: WalDatabaseMeta): Promise<{ view: WalDatabaseView; points: RestorePointView[] }> {
  // The timelines and a pending mark (one Query on the database's metadata partition) and the restore points (one Query), at once; or what the WAL view holds of them.
  const [meta, points] = fromView ? [fromView, fromView.restorePoints] : await Promise.all([deps.walCatalog.readMeta(database), deps.walCatalog.listRestorePoints(database)]);
  const summaries = meta.timelines;
  const pending = meta.retentionMark;
  const paths = new Map<number, readonly TimelineSegment[]>();
  const view: WalDatabaseView = {
    database,
    timelines: summaries.map((summary) => ({ timeline: summary.timeline, updatedAt: summary.updatedAt })),
    paths,
    ...(pending !== undefined ? { pending: pending as WalRetentionMark } : {}),
  };
  if (view.timelines.length > 0) {
    for (const timeline of timelinesInWindow(view, windowStart)) {
      const path = await pathTo(deps, database, timeline);
      if (path) paths.set(timeline, path);
    }
  }
  return { view, points: points.map((point) => ({ database, name: point.name, createdAt: point.createdAt, lsn: point.lsn, timeline: point.timeline })) };
}

/**
 * Reads the WAL view and restore points of each database, several at once (the result
 * keeps their order): from `metas` (the catalog's complete WAL view, readWalMetas) when
 * given — a database it lacks has no WAL — else on each database's keys. Never throws for
 * one database: it is listed as unreadable.
 */
export async function readWalInput(deps: { storage: Storage; walCatalog: WalCatalog; log: Log }, databases: readonly string[], windowStart: number, metas?: ReadonlyMap<string, WalDatabaseMeta>): Promise<WalInput> {
  const read = new Array<{ view: WalDatabaseView; points: RestorePointView[] } | { database: string; message: string }>(databases.length);
  await inPool([...databases.keys()], READ_CONCURRENCY, async (index) => {
    const database = databases[index]!;
    try {
      read[index] = await readOne(deps, database, windowStart, metas ? (metas.get(database) ?? { database, timelines: [], restorePoints: [], ranges: new Map() }) : undefined);
    } catch (error) {
      const failure = asStrongboxError(error);
      deps.log.error('retention: the WAL catalog of a database cannot be read: its base backups and WAL are kept', { database, code: failure.code, reason: failure.message });
      read[index] = { database, message: failure.message };
    }
  });
  const input: WalInput = { views: [], restorePoints: [], unreadable: [], ...(metas ? { viaView: true } : {}) };
  for (const one of read) {
    if ('view' in one) {
      input.views.push(one.view);
      input.restorePoints.push(...one.points);
    } else input.unreadable.push(one);
  }
  return input;
}
