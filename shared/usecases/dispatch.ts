import { summarise } from '../domain/alerts/bounded';
import type { DeployConfig } from '../domain/deploy-config';
import { dispatchWindow, dueJobs, type DueJob } from '../domain/dispatch';
import { asStrongboxError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';
import type { JobStarter } from '../ports/jobs';

export interface DispatchDeps {
  starter: JobStarter;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
}

export interface DispatchReport {
  from: string;
  to: string;
  started: number;
  failed: Array<{ kind: DueJob['kind']; database: string; at: string; code: string; message: string }>;
}

/** Jobs started at once: 200 databases' 03:00 dumps go out in seconds without a burst of 200 calls. */
export const DISPATCH_CONCURRENCY = 10;

/** Runs `act` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(items: readonly T[], limit: number, act: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await act(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Starts every job of `config` due in the window the firing at `firedAt` covers (see
 * dispatchWindow), at most `concurrency` at a time. Each job's own function or state
 * machine takes it from there, with its own retries and idempotency (the fired moment).
 * A job that cannot be started does not keep the others from starting; the failures are
 * logged one by one, summarised in one DISPATCH_FAILED alert, and thrown as
 * DISPATCH_FAILED at the end so that Lambda retries the firing (the started jobs are
 * idempotent on their fired moment, except a repeated WAL checkpoint, which is harmless).
 */
export async function dispatchDue(deps: DispatchDeps, config: DeployConfig, firedAt: Date, concurrency = DISPATCH_CONCURRENCY): Promise<DispatchReport> {
  const { from, to } = dispatchWindow(firedAt);
  const jobs = dueJobs(config, from, to);
  const report: DispatchReport = { from: from.toISOString(), to: to.toISOString(), started: 0, failed: [] };
  await forEachLimited(jobs, concurrency, async (job) => {
    try {
      await deps.starter.start(job);
      report.started += 1;
    } catch (error) {
      const failure = asStrongboxError(error);
      report.failed.push({ kind: job.kind, database: job.database.name, at: job.at.toISOString(), code: failure.code, message: failure.message });
      deps.log.error('dispatch: a due job could not be started', { kind: job.kind, database: job.database.name, at: job.at.toISOString(), code: failure.code, reason: failure.message });
    }
  });
  deps.log.info('dispatch: due jobs started', { from: report.from, to: report.to, due: jobs.length, started: report.started, failed: report.failed.length });
  if (report.failed.length === 0) return report;
  const lines = report.failed.map((failed) => `${failed.kind} of ${failed.database} at ${failed.at} (${failed.code}: ${failed.message})`);
  const message = `${report.failed.length} of ${jobs.length} scheduled job(s) due by ${report.to} could not be started: ${summarise(lines, { rest: 'each is logged as "dispatch: a due job could not be started"' })}`;
  const hint = 'the dispatcher is retried by Lambda; if it keeps failing check its role (lambda:InvokeFunction, states:StartExecution) and the target functions, then start a missed backup by hand (sls invoke -f scheduleBackup --data \'{"database":"<name>"}\')';
  const single = new Set(report.failed.map((failed) => failed.database)).size === 1 ? report.failed[0]!.database : undefined;
  await deps.alerts.publish({ type: 'DISPATCH_FAILED', severity: 'SEV2', message, hint, ...(single ? { database: single } : {}), code: report.failed[0]!.code, at: deps.clock().toISOString() });
  throw new StrongboxError('DISPATCH_FAILED', message, hint);
}
