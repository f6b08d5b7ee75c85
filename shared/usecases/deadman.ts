import type { Catalog } from '../ports/catalog';
import type { WalCatalog } from '../ports/wal-catalog';
import { DEFAULT_DEADMAN_POLICY, deadmanFindings, type DeadmanFinding, type DeadmanObservation, type DeadmanPolicy, type DeadmanSchedule } from '../domain/deadman';
import { asStrongboxError, type StrongboxError } from '../errors';
import { noMetrics, type Metrics } from '../metrics';
import type { AlertPublisher, Clock, Log } from '../ports';

export interface DeadmanDeps {
  catalog: Catalog;
  walCatalog: WalCatalog;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  metrics?: Metrics;
}

export interface DeadmanReport {
  checkedAt: string;
  findings: DeadmanFinding[];
}

/**
 * Newest first, the catalog lists at most this many logical / base entries per database:
 * more than a year of daily dumps with manual ones beside, and 33 days (the longest lookback)
 * of base backups even at several a day.
 */
const LOGICAL_LIMIT = 500;
const BASE_LIMIT = 200;

/** Databases checked at once. */
export const DEADMAN_CONCURRENCY = 8;

/** What the switch reads for one database: two catalog Queries, the archive status, the timeline summaries. */
async function observe(deps: DeadmanDeps, schedule: DeadmanSchedule): Promise<DeadmanObservation> {
  const { database } = schedule;
  const [logical, base, archiveStatus, timelines] = await Promise.all([
    schedule.logical || schedule.validation ? deps.catalog.listByDatabase(database, { kind: 'logical', limit: LOGICAL_LIMIT }) : [],
    schedule.base ? deps.catalog.listByDatabase(database, { kind: 'base', limit: BASE_LIMIT }) : [],
    schedule.walArchiving ? deps.walCatalog.getArchiveStatus(database) : undefined,
    schedule.walArchiving ? deps.walCatalog.timelines(database) : [],
  ]);
  const lastWalArrivalAt = timelines.map((t) => t.updatedAt).sort().at(-1);
  return { backups: [...logical, ...base], ...(archiveStatus ? { archiveStatus } : {}), ...(lastWalArrivalAt ? { lastWalArrivalAt } : {}) };
}

/**
 * The dead man's switch (see deadmanFindings): for each scheduled database, reads what the
 * catalogs hold, publishes one DEADMAN_SILENCE alert per finding (its `code` says which
 * check: DEADMAN_BACKUP, DEADMAN_WAL, DEADMAN_WAL_CHECKPOINT, DEADMAN_VALIDATION), logs every
 * finding at WARN and the run at INFO, and records the DeadmanFindings metric (0 included).
 * A database whose catalog cannot be read is logged and skipped so the others are still
 * checked; the first such error is thrown at the end (the function's Errors alarm fires).
 */
export async function runDeadman(deps: DeadmanDeps, schedules: readonly DeadmanSchedule[], policy: DeadmanPolicy = DEFAULT_DEADMAN_POLICY, concurrency = DEADMAN_CONCURRENCY): Promise<DeadmanReport> {
  const metrics = deps.metrics ?? noMetrics;
  const now = deps.clock();
  const found: DeadmanFinding[][] = schedules.map(() => []);
  let firstError: StrongboxError | undefined;
  const check = async (index: number) => {
    const schedule = schedules[index]!;
    try {
      found[index] = deadmanFindings(schedule, await observe(deps, schedule), now, policy);
    } catch (error) {
      const failure = asStrongboxError(error);
      firstError ??= failure;
      deps.log.error('dead man\'s switch could not check a database', { database: schedule.database, code: failure.code, reason: failure.message });
      return;
    }
    for (const finding of found[index]!) {
      deps.log.warn('dead man\'s switch: silence', { database: finding.database, check: finding.check, code: finding.code, kind: finding.kind, tier: finding.tier, dueAt: finding.dueAt, lastSeenAt: finding.lastSeenAt ?? null });
      await deps.alerts.publish({
        type: 'DEADMAN_SILENCE',
        severity: finding.severity,
        message: finding.message,
        hint: finding.hint,
        database: finding.database,
        code: finding.code,
        at: now.toISOString(),
      });
    }
  };
  // Databases are checked `concurrency` at a time: 200 databases' four reads each within
  // the function's timeout, without a burst of 800 requests on the table.
  let next = 0;
  const worker = async () => {
    while (next < schedules.length) await check(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, schedules.length) }, worker));
  const findings = found.flat();
  metrics.record('DeadmanFindings', findings.length);
  metrics.flush();
  deps.log.info('dead man\'s switch checked', { databases: schedules.length, findings: findings.length, checkedAt: now.toISOString() });
  if (firstError) throw firstError;
  return { checkedAt: now.toISOString(), findings };
}
