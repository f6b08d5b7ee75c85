import { asStrongboxError } from '../../errors';
import type { RetentionPlan } from '../../domain/retention';
import type { Clock, Log } from '../../ports';
import type { WalCatalog } from '../../ports/wal-catalog';
import { backfillWalView, hasWalView } from '../backfill-wal-view';
import type { RetentionReport } from './report';

/**
 * A catalog written before its WAL view (ports/wal-view.ts): the first run over every
 * database puts the items of the databases it knows (those with backups, and those the view
 * holds: archived since) in the view and marks it complete, so that later runs and `status`
 * read it. A failure is a note, never the run's: they keep reading database by database.
 */
export async function backfillView(deps: { walCatalog?: WalCatalog; log: Log; clock: Clock }, plan: RetentionPlan, inView: readonly string[], report: RetentionReport): Promise<void> {
  const walView = deps.walCatalog;
  if (!walView || !hasWalView(walView)) return;
  const databases = [...new Set([...plan.decisions.map((decision) => decision.database), ...plan.wal.map((decision) => decision.database), ...inView])];
  try {
    const done = await backfillWalView({ walView, log: deps.log, clock: deps.clock }, databases);
    report.notes.push(done.complete
      ? `the catalog's WAL view was backfilled (${done.items} item(s) of ${done.databases} database(s)): status and the retention plan of every database now read it`
      : `the catalog's WAL view could not be backfilled for ${done.failed.length} database(s) (see the log): status and retention keep reading database by database`);
  } catch (error) {
    const failure = asStrongboxError(error);
    deps.log.warn('retention could not mark the WAL view complete', { code: failure.code, reason: failure.message });
    report.notes.push(`the catalog's WAL view could not be marked complete (${failure.message}): status and retention keep reading database by database`);
  }
}
