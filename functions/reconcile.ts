import type { Context } from 'aws-lambda';
import { z } from 'zod';
import type { Catalog } from '../shared/ports/catalog';
import { InputError } from '../shared/errors';
import { awsDeps } from '../shared/runtime/aws';
import { walCodec } from '../shared/adapters/wal-codec/inspect';
import { packagedDeployConfig } from '../shared/runtime/deploy-config';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { reconcileWal, type ReconcileDeps, type WalReconcileReport } from '../shared/usecases/reconcile-wal';

/**
 * The input: the hourly schedule's (`{}`; an EventBridge Scheduled Event without input is
 * the same), or `{"databases": ["app"]}` to reconcile only those (sls invoke).
 */
const reconcileEvent = z.union([
  z.object({ databases: z.array(z.string().min(1)).min(1).max(1000).optional() }).strict(),
  z.object({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') }).passthrough(),
]);

/** What one run did, by count (names of the first repaired files too); the full report is in the log. */
export type ReconcileResult = Omit<WalReconcileReport, 'skipped'> & { skipped: number };

/** Time kept back from the Lambda timeout: the run stops between folders, its cursors saved. */
const MARGIN_MS = 60_000;

/** Sorted, rotated by the hour, so that a run cut short does not always leave the same databases for last. */
export function inTurn(names: Iterable<string>, now: Date): string[] {
  const sorted = [...new Set(names)].sort();
  const turn = sorted.length === 0 ? 0 : Math.floor(now.getTime() / 3_600_000) % sorted.length;
  return [...sorted.slice(turn), ...sorted.slice(0, turn)];
}

/** Every database with a backup in the catalog (Query on the byEntity index): where no config says which. */
export async function databasesInCatalog(catalog: Catalog): Promise<string[]> {
  return (await catalog.listAll()).map((entry) => entry.database);
}

/**
 * Hourly reconciliation of the WAL index (of the databases `configured` gives: the packaged
 * config in AWS, the catalog's by default) with the WAL records in storage (reconcile-wal.ts):
 * indexes what lost ObjectCreated events missed, alerts WAL_EVENTS_LOST when it repaired
 * something, and stops before the function's timeout (the next run resumes at the cursors).
 * A garbage event is refused with InputError (not retried).
 */
export function reconcileHandler(deps: ReconcileDeps & { catalog: Catalog }, configured: () => Promise<readonly string[]> = () => databasesInCatalog(deps.catalog)) {
  return async (event: unknown, remainingMs?: () => number): Promise<ReconcileResult> => {
    const parsed = reconcileEvent.safeParse(event ?? {});
    if (!parsed.success) throw new InputError('the reconcile function takes {} or {"databases": [names]}', 'invoke it with no input (the hourly schedule does) or name the databases');
    const named = 'databases' in parsed.data ? (parsed.data.databases as string[] | undefined) : undefined;
    const databases = named ?? inTurn(await configured(), deps.clock());
    const stopAt = remainingMs ? deps.clock().getTime() + Math.max(0, remainingMs() - MARGIN_MS) : undefined;
    // The codec decodes the records whose decoded check was deferred (docs/wal.md): this is their watchdog.
    const report = await reconcileWal({ codec: walCodec, ...deps }, { databases, ...(stopAt !== undefined ? { stopAt } : {}) });
    const { skipped: _list, ...counts } = report;
    return { ...counts, skipped: report.skippedCount };
  };
}

let deps: Parameters<typeof reconcileHandler>[0] | undefined;

/** In AWS: the databases of the packaged config (compiled into the bundle, like the dispatcher's). */
const configuredDatabases = async () => packagedDeployConfig(process.env).databases.map((database) => database.name);

export const handler = lambdaHandler('reconcile', (event: unknown, context: Context) =>
  reconcileHandler((deps ??= awsDeps(process.env, lambdaLog)), configuredDatabases)(event, () => context.getRemainingTimeInMillis()),
);
