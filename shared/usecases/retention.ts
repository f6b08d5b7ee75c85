import type { Catalog } from '../ports/catalog';
import type { WalCatalog } from '../ports/wal-catalog';
import { hasColdArea, type Storage } from '../ports/storage';
import { summarise } from '../domain/alerts/bounded';
import type { BackupEntry } from '../domain/backup';
import { planRetention, type RetentionDecision, type RetentionPlan, type RetentionPolicy, type WalDecision } from '../domain/retention';
import { parseRetentionPolicy } from '../domain/retention/policy';
import { asStrongboxError, BackupNotFoundError, ConflictError } from '../errors';
import type { AlertPublisher, Clock, Log, ProcessProbe } from '../ports';
import { deleteBackup, inspect, lockedItem, moveCold, reliedOn, reliedOnChanged } from './retention/backups';
import { COLD_NOTE_AWS, COLD_NOTE_LOCAL, emptyReport, item, LOCK_NOTE, NO_WAL_NOTE, VERSIONED_NOTE, type RetentionReport, type WalReportItem } from './retention/report';
import { applyWalMark, countWal, WAL_BATCH, WAL_IN_FLIGHT, type WalOutcome } from './retention/wal-apply';
import { readWalInput, readWalMetas, type WalInput } from './retention/wal-view';
import { backfillView } from './retention/view-backfill';
import { sweepUnfinished } from './retention/unfinished';

export type { RetentionItem, RetentionReport, RestorePointReportItem, WalReportItem } from './retention/report';

const DAY_MS = 86_400_000;
/** Backups per page when retention lists every backup: ~2 requests for 200 databases of ~14 (a page also stops at 1 MB). */
const ALL_BACKUPS_PAGE = 1000;

export interface RetentionDeps {
  storage: Storage;
  catalog: Catalog;
  log: Log;
  alerts: AlertPublisher;
  clock: Clock;
  /**
   * The WAL catalog. With it, base backups, WAL segments and restore points join the
   * plan; without it base backups are kept (NOT_PLANNED_YET) and no WAL is touched.
   */
  walCatalog?: WalCatalog;
  /** Local mode: whether processes on this host are alive (the unfinished-write sweep knows a dead writer at once). */
  processes?: ProcessProbe;
  /** A backup silent for longer is dead (the watchdog's bound; default 10 min): its unfinished writes go. */
  staleAfterMs?: number;
}

export interface RetentionOptions {
  policy: RetentionPolicy;
  /** Plan and report only: nothing is marked, moved or deleted. */
  dryRun: boolean;
  /** Only this database (one Query on its index); default every backup. */
  database?: string;
  /**
   * Delete only these backup ids (the ones an operator saw and confirmed); any other
   * deletion the fresh plan asks for is skipped until the next run. With `only`, WAL and
   * restore points are deleted only for the databases in `onlyWal`.
   */
  only?: ReadonlySet<string>;
  /** With `only`: the databases whose WAL cut-off and restore points the operator confirmed. */
  onlyWal?: ReadonlySet<string>;
  /** Segments per page and per storage batch (default 1 000, S3 DeleteObjects' maximum). */
  walBatch?: number;
  /** WAL pages deleted at once (default WAL_IN_FLIGHT; 1: one page after another, as before issue 16). */
  walInFlight?: number;
}

async function readBackups(deps: RetentionDeps, options: RetentionOptions, now: Date): Promise<BackupEntry[]> {
  try {
    return options.database ? await deps.catalog.listByDatabase(options.database) : await deps.catalog.listAll({ pageSize: ALL_BACKUPS_PAGE });
  } catch (error) {
    const failure = asStrongboxError(error);
    await deps.alerts.publish({ type: 'RETENTION_FAILED', severity: 'SEV3', message: `retention could not read the catalog: ${failure.message}`, hint: failure.hint, code: failure.code, at: now.toISOString() });
    throw failure;
  }
}

/**
 * Reads what planning needs — the backups (Query on an index), and with `walCatalog` each
 * database's timelines, histories in the window, pending mark and restore points (over
 * every database, from the catalog's WAL view when it is complete), never its segments —
 * and plans at the clock's now. `wal.viewDatabases`: the databases the view holds, when it
 * was read. Changes nothing. Throws (after alerting) when the catalog cannot be read,
 * InputError for a bad policy.
 */
export async function readAndPlan(deps: RetentionDeps, options: RetentionOptions, now: Date): Promise<{ plan: RetentionPlan; wal?: WalInput & { viewDatabases?: string[] } }> {
  const policy = parseRetentionPolicy(options.policy);
  const walCatalog = deps.walCatalog;
  // Every database: its WAL metadata from the catalog's WAL view, read beside the listing of every backup.
  const [backups, metas] = await Promise.all([readBackups(deps, options, now), walCatalog && !options.database ? readWalMetas({ walCatalog, log: deps.log }) : undefined]);
  if (!walCatalog) return { plan: planRetention({ backups }, policy, now) };
  const databases = [...new Set([...backups.map((entry) => entry.database).filter((name) => typeof name === 'string'), ...(options.database ? [options.database] : [])])].sort();
  const wal = await readWalInput({ storage: deps.storage, walCatalog, log: deps.log }, databases, now.getTime() - policy.walDays * DAY_MS, metas?.complete ? metas.databases : undefined);
  return { plan: planRetention({ backups, wal: wal.views, restorePoints: wal.restorePoints }, policy, now), wal: { ...wal, ...(metas ? { viewDatabases: [...metas.databases.keys()] } : {}) } };
}

function skip(deps: RetentionDeps, report: RetentionReport, decision: RetentionDecision, why: string): void {
  report.skipped.push({ ...item(decision), why });
  deps.log.warn('retention deletion skipped', { backupId: decision.id, database: decision.database, why });
}

function fail(deps: RetentionDeps, report: RetentionReport, decision: RetentionDecision, error: unknown): void {
  const failure = asStrongboxError(error);
  report.failed.push({ ...item(decision), code: failure.code, message: failure.message });
  deps.log.error('retention deletion failed', { backupId: decision.id, database: decision.database, code: failure.code, reason: failure.message });
}

/** Why a planned deletion waits for the next run, or undefined to go ahead. Finishing a marked deletion never waits. */
async function holdBack(deps: RetentionDeps, plan: RetentionPlan, options: RetentionOptions, decision: RetentionDecision, blocked: Map<string, string | undefined>): Promise<string | undefined> {
  if (options.only && !options.only.has(decision.id)) return 'not in the plan that was confirmed';
  if (decision.rule === 'FINISH_DELETION') return undefined;
  if (!blocked.has(decision.database)) blocked.set(decision.database, await reliedOnChanged(deps.catalog, reliedOn(plan, decision.database)));
  return blocked.get(decision.database);
}

async function applyBackups(deps: RetentionDeps, plan: RetentionPlan, options: RetentionOptions, report: RetentionReport, now: Date): Promise<void> {
  for (const decision of plan.decisions) {
    deps.log.info('retention decision', { backupId: decision.id, database: decision.database, tier: decision.tier, state: decision.state, action: decision.action, rule: decision.rule, reason: decision.reason, dryRun: options.dryRun });
    if (decision.action === 'keep') report.kept.push(item(decision));
    if (decision.action !== 'cold') continue;
    try {
      const moved = options.dryRun ? false : await moveCold(deps, decision);
      report.cold.push({ ...item(decision), ...(moved ? { moved } : {}) });
    } catch (error) {
      report.cold.push(item(decision));
      fail(deps, report, decision, error);
    }
  }
  const deletions = plan.decisions.filter((decision) => decision.action === 'delete');
  // Finish what an earlier run committed to before starting anything new.
  deletions.sort((a, b) => Number(b.rule === 'FINISH_DELETION') - Number(a.rule === 'FINISH_DELETION'));
  const blocked = new Map<string, string | undefined>();
  for (const decision of deletions) {
    try {
      const why = options.dryRun ? undefined : await holdBack(deps, plan, options, decision, blocked);
      if (why) {
        skip(deps, report, decision, why);
        continue;
      }
      const found = await inspect(deps.storage, decision.entry, now);
      if (found.lock) {
        report.locked.push(lockedItem(decision, found.lock));
        deps.log.warn('retention deletion held by Object Lock', { backupId: decision.id, database: decision.database, rule: 'OBJECT_LOCKED', ...found.lock });
        continue;
      }
      const bytes = options.dryRun ? found.bytes : await deleteBackup(deps, decision, found.bytes);
      report.deleted.push({ ...item(decision), bytes });
      report.bytesFreed += bytes;
    } catch (error) {
      if (error instanceof ConflictError || error instanceof BackupNotFoundError) skip(deps, report, decision, error.message);
      else fail(deps, report, decision, error);
    }
  }
}

function walLine(decision: WalDecision, outcome: WalOutcome): WalReportItem {
  const { database, action, rule, reason, anchors } = decision;
  return { database, action, rule, reason, anchors, timelines: decision.mark?.timelines ?? [], keep: decision.mark?.keep ?? [], ...outcome };
}

/** WAL cut-offs (pending ones first) and restore points; failures are reported like a backup's. */
async function applyWal(deps: RetentionDeps, plan: RetentionPlan, options: RetentionOptions, report: RetentionReport): Promise<void> {
  const walCatalog = deps.walCatalog;
  if (!walCatalog) return;
  const walDeps = { storage: deps.storage, walCatalog, log: deps.log, clock: deps.clock };
  const confirmed = (database: string) => !options.only || (options.onlyWal?.has(database) ?? false);
  const blocked = new Map<string, string | undefined>();
  for (const decision of plan.wal) {
    deps.log.info('retention WAL decision', { database: decision.database, action: decision.action, rule: decision.rule, reason: decision.reason, anchors: decision.anchors, dryRun: options.dryRun });
    const none = { segments: 0, bytes: 0, locked: 0 };
    if (decision.action === 'keep' || !decision.mark) {
      report.wal.push(walLine(decision, none));
      continue;
    }
    const mark = decision.mark;
    try {
      if (options.dryRun) {
        report.wal.push(walLine(decision, await countWal(walDeps, decision.database, mark)));
        continue;
      }
      if (!confirmed(decision.database)) {
        report.wal.push({ ...walLine(decision, none), action: 'keep', reason: `${decision.reason} — not in the plan that was confirmed` });
        continue;
      }
      if (decision.rule !== 'FINISH_DELETION') {
        if (!blocked.has(decision.database)) blocked.set(decision.database, await reliedOnChanged(deps.catalog, decision.anchors.map((id) => ({ id, role: 'base backup the PITR window starts from' }))));
        const why = blocked.get(decision.database);
        if (why) {
          report.wal.push({ ...walLine(decision, none), action: 'keep', reason: `${decision.reason} — skipped: ${why}` });
          continue;
        }
        await walCatalog.putRetentionMark(decision.database, mark);
      }
      const outcome = await applyWalMark(walDeps, decision.database, mark, options.walBatch ?? WAL_BATCH, options.walInFlight ?? WAL_IN_FLIGHT);
      if (outcome.locked === 0) await walCatalog.clearRetentionMark(decision.database, mark.at);
      report.wal.push(walLine(decision, outcome));
      report.bytesFreed += outcome.bytes;
    } catch (error) {
      const failure = asStrongboxError(error);
      report.wal.push(walLine(decision, none));
      report.failed.push({ id: `wal:${decision.database}`, database: decision.database, tier: 'wal', state: '-', startedAt: '-', rule: decision.rule, reason: decision.reason, code: failure.code, message: failure.message });
      deps.log.error('retention WAL deletion failed', { database: decision.database, code: failure.code, reason: failure.message });
    }
  }
  for (const point of plan.restorePoints) {
    if (point.action === 'keep') {
      report.restorePoints.kept += 1;
      continue;
    }
    const line = { database: point.database, name: point.name, createdAt: point.createdAt, rule: point.rule, reason: point.reason };
    if (!options.dryRun) {
      if (!confirmed(point.database)) {
        report.restorePoints.kept += 1;
        continue;
      }
      try {
        await walCatalog.deleteRestorePoint(point.database, point.name);
      } catch (error) {
        const failure = asStrongboxError(error);
        report.failed.push({ id: `restore-point:${point.name}`, database: point.database, tier: 'restore-point', state: '-', startedAt: point.createdAt, rule: point.rule, reason: point.reason, code: failure.code, message: failure.message });
        deps.log.error('retention could not drop a restore point', { database: point.database, name: point.name, code: failure.code, reason: failure.message });
        continue;
      }
      deps.log.info('restore point dropped by retention', { database: point.database, name: point.name, createdAt: point.createdAt, rule: point.rule });
    }
    report.restorePoints.deleted.push(line);
  }
}

/**
 * Applies retention: reads the catalog (Query) and, with `walCatalog`, each database's
 * WAL view (timelines, histories in the window, a pending mark, restore points — never the
 * segments), plans with `planRetention`, logs every decision at INFO with its rule and
 * reason, and — unless `dryRun` — acts:
 *
 * - backups: entries already marked `deleting` first, then the others, each by
 *   markDeleting (conditional on the state the plan saw) → storage delete (manifest,
 *   then data) → remove; a backup Object Lock holds is reported (`locked`), not marked;
 *   a cold monthly is moved under `cold/` in the repository folder (S3: reported only);
 * - WAL: a pending mark is finished, then the new cut-off is marked in the catalog, its
 *   segments deleted in batches (records' `.json`, then bytes, then catalog items) and
 *   the mark cleared; restore points past `restorePointHours` are dropped;
 * - unfinished writes (a killed backup's temporary file or multipart upload) that no live
 *   writer owns are discarded (sweepUnfinishedWrites) — not with `only`: an operator
 *   confirmed a list of backups, nothing else.
 *
 * Idempotent: a repeated run finds nothing new to do. A failure on one item is reported,
 * alerted once per run (RETENTION_FAILED) and does not stop the others; an entry whose
 * state changed since the plan is skipped. Throws (after alerting) only when the catalog
 * cannot be read, and InputError for a bad policy.
 */
export async function applyRetention(deps: RetentionDeps, options: RetentionOptions): Promise<RetentionReport> {
  const now = deps.clock();
  const { plan: planned, wal } = await readAndPlan(deps, options, now);
  const report = emptyReport(planned.now, options.dryRun, planned.policy);
  await applyBackups(deps, planned, options, report, now);
  await applyWal(deps, planned, options, report);
  if (!options.only) await sweepUnfinished(deps, options.dryRun, report);
  if (!options.dryRun && !options.only && !options.database && wal && !wal.viaView && wal.viewDatabases) await backfillView(deps, planned, wal.viewDatabases, report);
  for (const unreadable of wal?.unreadable ?? []) report.notes.push(`the WAL catalog of ${unreadable.database} could not be read (${unreadable.message}): its base backups and WAL are kept`);
  if (!deps.walCatalog) report.notes.push(NO_WAL_NOTE);
  report.notes.push(VERSIONED_NOTE);
  if (report.cold.length) report.notes.push(hasColdArea(deps.storage) ? COLD_NOTE_LOCAL : COLD_NOTE_AWS);
  if (report.locked.length || report.wal.some((line) => line.locked > 0)) report.notes.push(LOCK_NOTE);
  if (options.dryRun) report.notes.push('dry run: nothing was marked, moved or deleted');
  if (report.failed.length) await alertFailures(deps, report);
  deps.log.info('retention applied', {
    dryRun: options.dryRun,
    kept: report.kept.length,
    cold: report.cold.length,
    deleted: report.deleted.length,
    skipped: report.skipped.length,
    failed: report.failed.length,
    locked: report.locked.length,
    walSegments: report.wal.reduce((sum, line) => sum + line.segments, 0),
    restorePoints: report.restorePoints.deleted.length,
    bytesFreed: report.bytesFreed,
  });
  return report;
}

async function alertFailures(deps: RetentionDeps, report: RetentionReport): Promise<void> {
  const [first] = report.failed;
  const single = report.failed.length === 1 ? first : undefined;
  await deps.alerts.publish({
    type: 'RETENTION_FAILED',
    severity: 'SEV3',
    // Bounded (issue 16): a thousand failures in one message would exceed SNS's 256 KB.
    message: `retention could not delete ${report.failed.length} item(s): ${summarise(report.failed.map((failed) => `${failed.id} (${failed.code}: ${failed.message})`), { rest: 'each failure is logged as "retention … failed" by the run, and listed by `strongbox retention apply --json`' })}`,
    hint: 'nothing restorable was lost; entries already marked are finished by the next run (`strongbox retention apply`) once the cause (storage, permissions) is fixed',
    ...(single && !single.id.startsWith('wal:') ? { database: single.database, backupId: single.id } : single ? { database: single.database } : {}),
    ...(first ? { code: first.code } : {}),
    at: report.at,
  });
}
