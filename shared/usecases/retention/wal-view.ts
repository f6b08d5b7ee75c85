/**
 * Reads what the planner needs of each database's WAL archive — timeline summaries, the
 * history of the timelines in the PITR window, a pending deletion mark, restore points —
 * by Query and GetItem on keys. The segments themselves are not read to plan.
 */
import type { WalCatalog } from '../../adapters/catalog/wal-catalog';
import type { Storage } from '../../adapters/storage/storage';
import { timelinesInWindow } from '../../domain/retention/pitr-window';
import type { RestorePointView, WalDatabaseView, WalRetentionMark } from '../../domain/retention';
import { parseHistory, timelinePath, type TimelineSegment } from '../../domain/wal/history';
import { asStrongboxError } from '../../errors';
import type { Log } from '../../ports';
import { readArchivedHistory } from '../wal-history';

/** What the WAL catalog gave for the planner; databases it could not read are missing (their base backups are then kept). */
export interface WalInput {
  views: WalDatabaseView[];
  restorePoints: RestorePointView[];
  /** Databases whose WAL could not be read, and why. */
  unreadable: Array<{ database: string; message: string }>;
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

/** Reads the WAL view and restore points of each database. Never throws for one database: it is listed as unreadable. */
export async function readWalInput(deps: { storage: Storage; walCatalog: WalCatalog; log: Log }, databases: readonly string[], windowStart: number): Promise<WalInput> {
  const input: WalInput = { views: [], restorePoints: [], unreadable: [] };
  for (const database of databases) {
    try {
      const summaries = await deps.walCatalog.timelines(database);
      const pending = await deps.walCatalog.getRetentionMark(database);
      const points = await deps.walCatalog.listRestorePoints(database);
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
      input.views.push(view);
      input.restorePoints.push(...points.map((point) => ({ database, name: point.name, createdAt: point.createdAt, lsn: point.lsn, timeline: point.timeline })));
    } catch (error) {
      const failure = asStrongboxError(error);
      deps.log.error('retention: the WAL catalog of a database cannot be read: its base backups and WAL are kept', { database, code: failure.code, reason: failure.message });
      input.unreadable.push({ database, message: failure.message });
    }
  }
  return input;
}
