import { z } from 'zod';
import type { WalCatalog } from '../shared/ports/wal-catalog';
import { retentionPolicyFromConfig, type RetentionPolicy } from '../shared/domain/retention';
import { asStrongboxError, InputError } from '../shared/errors';
import type { Alert, AlertPublisher } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { manifestsIn } from '../shared/runtime/manifest-events';
import { applyRetention, type RetentionDeps, type RetentionReport } from '../shared/usecases/retention';

/** The retention function's deps: applyRetention's, plus the WAL catalog when there is one. */
export type RetentionFunctionDeps = RetentionDeps & { walCatalog?: WalCatalog };

/** What one applyRetention run did, by count (the full report is in the logs). */
export interface RetentionRunSummary {
  /** The database, or `*` for the daily sweep over all of them. */
  database: string;
  deleted: number;
  kept: number;
  cold: number;
  skipped: number;
  failed: number;
  bytesFreed: number;
}

export interface RetentionResult {
  trigger: 'sweep' | 'object-created';
  runs: RetentionRunSummary[];
  /** Keys the event named that are not backup manifests of this bucket, or why the event is not one. */
  ignored: string[];
  /** Set when the run stopped on an error (alerted; nothing more was deleted). */
  error?: { code: string; message: string };
}

/**
 * The daily sweep: the EventBridge schedule's input (`{"sweep": true}`, see
 * deploy/schedules.cjs), or an EventBridge Scheduled Event as it comes without input.
 */
const sweepEvent = z.union([
  z.object({ sweep: z.literal(true) }).strict(),
  z.object({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') }).passthrough(),
]);

/**
 * The policy from the STRONGBOX_RETENTION_POLICY variable (the config file's `retention`
 * section as JSON, set by serverless.yml; absent → the defaults). Throws InputError for
 * text that is not JSON or a policy that makes no sense.
 */
export function policyFromEnv(env: NodeJS.ProcessEnv): RetentionPolicy {
  const text = env.STRONGBOX_RETENTION_POLICY;
  if (text === undefined || text.trim() === '') return retentionPolicyFromConfig(undefined);
  let section: unknown;
  try {
    section = JSON.parse(text);
  } catch (error) {
    throw new InputError('STRONGBOX_RETENTION_POLICY is not JSON', 'it is the `retention` section of strongbox.config.json, set by serverless.yml: fix the config file and deploy again', { cause: error });
  }
  return retentionPolicyFromConfig(section);
}

/** An alert publisher that remembers whether a RETENTION_FAILED went out (so one failure alerts once). */
function watchingAlerts(alerts: AlertPublisher): AlertPublisher & { retentionFailed: number } {
  const watching = {
    retentionFailed: 0,
    async publish(alert: Alert): Promise<void> {
      if (alert.type === 'RETENTION_FAILED') watching.retentionFailed += 1;
      await alerts.publish(alert);
    },
  };
  return watching;
}

function summary(database: string, report: RetentionReport): RetentionRunSummary {
  return { database, deleted: report.deleted.length, kept: report.kept.length, cold: report.cold.length, skipped: report.skipped.length, failed: report.failed.length, bytesFreed: report.bytesFreed };
}

/**
 * Retention, on each ObjectCreated of a backup manifest (SNS-wrapped or direct: that
 * backup's database) and on the daily sweep (every database). Validates the event first:
 * a garbage event, WAL records and other keys are reported in `ignored`, never acted on.
 * Each run is applyRetention (plan, catalog first, then deletes), so a repeated event
 * finds nothing more to do.
 *
 * An error stops the run before anything more is deleted and publishes one
 * RETENTION_FAILED alert (unless applyRetention already did): a bad policy is returned as
 * `error` (retrying cannot help); anything else is thrown so Lambda retries the event.
 */
export function retentionHandler(deps: RetentionFunctionDeps, readPolicy: () => RetentionPolicy) {
  return async (event: unknown): Promise<RetentionResult> => {
    const sweep = sweepEvent.safeParse(event).success;
    let databases: Array<string | undefined> = [undefined];
    const result: RetentionResult = { trigger: sweep ? 'sweep' : 'object-created', runs: [], ignored: [] };
    if (!sweep) {
      const { manifests, walRecords, ignored } = manifestsIn(event, deps.storage.bucket, deps.log);
      // Retention follows new backups; WAL records arrive every minute and wait for the sweep.
      result.ignored.push(...ignored, ...walRecords);
      databases = [...new Set(manifests.map((key) => key.split('/')[2]!))].sort();
      if (databases.length === 0) return result;
    }
    const alerts = watchingAlerts(deps.alerts);
    for (const database of databases) {
      const before = alerts.retentionFailed;
      try {
        const policy = readPolicy();
        const report = await applyRetention({ ...deps, alerts }, { policy, dryRun: false, ...(database ? { database } : {}) });
        result.runs.push(summary(database ?? '*', report));
        deps.log.info('retention run done', { trigger: result.trigger, ...summary(database ?? '*', report) });
      } catch (error) {
        const failure = asStrongboxError(error);
        result.error = { code: failure.code, message: failure.message };
        deps.log.error('retention stopped', { trigger: result.trigger, database: database ?? '*', code: failure.code, reason: failure.message });
        if (alerts.retentionFailed === before) {
          await alerts.publish({
            type: 'RETENTION_FAILED',
            severity: 'SEV3',
            message: `retention (${result.trigger}${database ? `, database ${database}` : ''}) stopped before deleting anything more: ${failure.message}`,
            hint: failure.hint,
            code: failure.code,
            ...(database ? { database } : {}),
            at: deps.clock().toISOString(),
          });
        }
        if (failure instanceof InputError) return result;
        throw failure;
      }
    }
    return result;
  };
}

let deps: RetentionFunctionDeps | undefined;

/** The watchdog's bound (STRONGBOX_STALE_AFTER_SECONDS, default 600): a backup silent longer is dead, its unfinished uploads go. */
export function staleAfterMsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const seconds = Number(env.STRONGBOX_STALE_AFTER_SECONDS);
  // A value that is not a sane number must not make every running backup look dead.
  return Number.isFinite(seconds) && seconds >= 60 ? seconds * 1000 : undefined;
}

export const handler = lambdaHandler('retention', (event: unknown) => {
  deps ??= { ...awsDeps(process.env, lambdaLog), ...optionalStale(staleAfterMsFromEnv(process.env)) };
  return retentionHandler(deps, () => policyFromEnv(process.env))(event);
});

function optionalStale(staleAfterMs: number | undefined): { staleAfterMs?: number } {
  return staleAfterMs === undefined ? {} : { staleAfterMs };
}
