import { inPool } from '../domain/in-pool';
import { asStrongboxError } from '../errors';
import type { Clock, Log } from '../ports';
import type { WalViewCatalog } from '../ports/wal-view';

/** What a backfill of the WAL view did. */
export interface WalViewBackfillReport {
  /** Databases whose items were checked. */
  databases: number;
  /** Items put into the view (0 when every item was there already). */
  items: number;
  /** True when the view is now marked complete: status and the retention plan of every database read it. */
  complete: boolean;
  /** Databases whose items could not all be put in the view (the view is then not marked complete). */
  failed: Array<{ database: string; message: string }>;
}

/** True when this catalog has a WAL view (the DynamoDB catalog has; stand-ins may not). */
export function hasWalView<T extends Partial<WalViewCatalog>>(catalog: T): catalog is T & WalViewCatalog {
  return typeof catalog.readViews === 'function' && typeof catalog.backfillView === 'function' && typeof catalog.markViewComplete === 'function';
}

/** Databases backfilled at once. */
const BACKFILL_DATABASES_AT_ONCE = 4;

/**
 * Puts the WAL metadata, restore points and ranges of `databases` written before the
 * catalog had its WAL view into the view (ports/wal-view.ts), then marks the view
 * complete — only when every database succeeded, so that a reader never trusts a view that
 * lacks a database's items. Idempotent: a second run changes nothing and marks again.
 * `databases` must name every database with WAL items in the catalog (`catalog rebuild`
 * passes those seen in storage and in the backups; retention those with backups and those
 * already in the view). Never throws for one database: it is reported in `failed`.
 */
export async function backfillWalView(deps: { walView: WalViewCatalog; log: Log; clock: Clock }, databases: readonly string[]): Promise<WalViewBackfillReport> {
  const names = [...new Set(databases)].sort();
  const report: WalViewBackfillReport = { databases: names.length, items: 0, complete: false, failed: [] };
  await inPool(names, BACKFILL_DATABASES_AT_ONCE, async (database) => {
    try {
      const items = await deps.walView.backfillView(database);
      report.items += items;
    } catch (error) {
      const failure = asStrongboxError(error);
      report.failed.push({ database, message: failure.message });
      deps.log.warn('the WAL view could not be backfilled for a database: status and retention keep reading database by database', { database, code: failure.code, reason: failure.message });
    }
  });
  if (report.failed.length === 0) {
    await deps.walView.markViewComplete(deps.clock().toISOString());
    report.complete = true;
  }
  deps.log.info('WAL view backfilled', { databases: report.databases, items: report.items, complete: report.complete, failed: report.failed.length });
  return report;
}
