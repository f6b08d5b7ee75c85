import type { Catalog } from '../adapters/catalog/catalog';
import type { Storage } from '../adapters/storage/storage';
import type { BackupEntry } from '../domain/backup';
import { planRetention, type RetentionDecision, type RetentionPlan, type RetentionPolicy, type RetentionRule } from '../domain/retention';
import { asStrongboxError, BackupNotFoundError, ConflictError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';

export interface RetentionDeps {
  storage: Storage;
  catalog: Catalog;
  log: Log;
  alerts: AlertPublisher;
  clock: Clock;
}

export interface RetentionOptions {
  policy: RetentionPolicy;
  /** Plan and report only: nothing is marked or deleted. */
  dryRun: boolean;
  /** Only this database's backups (one Query on its index); default every backup. */
  database?: string;
  /**
   * Delete only these ids (the ones an operator saw and confirmed); any other deletion
   * the fresh plan asks for is skipped until the next run.
   */
  only?: ReadonlySet<string>;
}

/** One entry in the report. */
export interface RetentionItem {
  id: string;
  database: string;
  tier: string;
  state: string;
  startedAt: string;
  rule: RetentionRule;
  reason: string;
}

export interface RetentionReport {
  at: string;
  dryRun: boolean;
  policy: RetentionPolicy;
  kept: RetentionItem[];
  /** Kept, in cold storage (monthly tier): reported, moved by the bucket's lifecycle rule. */
  cold: RetentionItem[];
  /** Deleted (in a dry run: what would be), with the bytes of their objects. */
  deleted: Array<RetentionItem & { bytes: number }>;
  /** Deletions left for the next run because the catalog changed since the plan. */
  skipped: Array<RetentionItem & { why: string }>;
  /** Deletions that failed (alerted); a marked entry is finished by the next run. */
  failed: Array<RetentionItem & { code: string; message: string }>;
  /** Sum of the sizes of the deleted objects (in a dry run: that would be freed). */
  bytesFreed: number;
  notes: string[];
}

const VERSIONED_NOTE =
  'in a versioned bucket a delete leaves a noncurrent version: the space is freed when the bucket\'s lifecycle rule expires noncurrent versions (NoncurrentVersionExpiration)';
const COLD_NOTE =
  'cold entries are only reported: in AWS the bucket\'s lifecycle rule on logical/monthly/ moves them to GLACIER or DEEP_ARCHIVE itself; the local repository folder has no cold tier';

function item(decision: RetentionDecision): RetentionItem {
  const { id, database, tier, state, startedAt, rule, reason } = decision;
  return { id, database, tier, state, startedAt, rule, reason };
}

/**
 * The backup's objects in deletion order: the manifest first, alone, then the data.
 * Writes put the manifest last, so "has a manifest" means "complete"; deleting it first
 * keeps that true. A crash in between leaves data without a manifest, which
 * `catalog rebuild` reports as an incomplete folder and never indexes; the other order
 * would leave a manifest over missing data, which a rebuild would resurrect as a backup.
 */
function objectBatches(entry: BackupEntry): [string[], string[]] {
  return [[entry.manifestKey], [entry.key, ...(entry.globalsKey ? [entry.globalsKey] : [])]];
}

async function sizeOf(storage: Storage, keys: readonly string[]): Promise<number> {
  const infos = await Promise.all(keys.map((key) => storage.head(key)));
  return infos.reduce((sum, info) => sum + (info?.size ?? 0), 0);
}

/** Catalog first (the mark), then the objects, then the entry. Returns the bytes freed. */
async function deleteBackup(deps: RetentionDeps, decision: RetentionDecision): Promise<number> {
  let entry = decision.entry;
  if (!entry.deleting) {
    entry = await deps.catalog.markDeleting(entry.id, entry.state, { at: deps.clock().toISOString(), rule: decision.rule });
    deps.log.info('backup marked for deletion', { backupId: entry.id, database: entry.database, rule: decision.rule });
  }
  const [manifest, data] = objectBatches(entry);
  const bytes = await sizeOf(deps.storage, [...manifest, ...data]);
  await deps.storage.delete(manifest);
  await deps.storage.delete(data);
  await deps.catalog.remove(entry.id);
  deps.log.info('backup deleted by retention', { backupId: entry.id, database: entry.database, tier: entry.tier, rule: decision.rule, bytes });
  return bytes;
}

/**
 * Whether deletions of `database` may go ahead: its newest VERIFIED full backup, which
 * the plan relies on, is still VERIFIED and unmarked. A backup that failed a later
 * checksum since the plan would otherwise leave an older one as the newest, unprotected.
 */
async function newestStillVerified(deps: RetentionDeps, plan: RetentionPlan, database: string): Promise<string | undefined> {
  const newest = plan.newestVerified.find((candidate) => candidate.database === database);
  if (!newest) return undefined;
  const current = await deps.catalog.get(newest.id);
  if (current?.state === 'VERIFIED' && !current.deleting) return undefined;
  return `the newest VERIFIED backup ${newest.id} changed since the plan (${current ? current.state : 'gone'}): run retention again`;
}

/**
 * Why a planned deletion waits for the next run, or undefined to go ahead: not among the
 * ids the operator confirmed, or its database's newest VERIFIED backup changed (checked
 * once per database, remembered in `blocked`). Finishing a marked deletion never waits.
 */
async function reasonToHoldBack(
  deps: RetentionDeps,
  plan: RetentionPlan,
  options: RetentionOptions,
  decision: RetentionDecision,
  blocked: Map<string, string | undefined>,
): Promise<string | undefined> {
  if (options.only && !options.only.has(decision.id)) return 'not in the plan that was confirmed';
  if (decision.rule === 'FINISH_DELETION') return undefined;
  if (!blocked.has(decision.database)) blocked.set(decision.database, await newestStillVerified(deps, plan, decision.database));
  return blocked.get(decision.database);
}

function skip(deps: RetentionDeps, report: RetentionReport, decision: RetentionDecision, why: string): void {
  report.skipped.push({ ...item(decision), why });
  deps.log.warn('retention deletion skipped', { backupId: decision.id, database: decision.database, why });
}

/**
 * Applies retention: reads the catalog (Query), plans with `planRetention`, logs every
 * decision at INFO with its rule and reason, and — unless `dryRun` — deletes: entries
 * already marked `deleting` (a run that stopped half-way) first, then the others, each
 * by markDeleting (conditional on the state the plan saw) → storage delete (manifest,
 * then data) → remove. Idempotent: a repeated run finds nothing new to do.
 *
 * A failure on one backup is reported, alerted once per run (RETENTION_FAILED) and does
 * not stop the others; an entry whose state changed since the plan is skipped. Throws
 * (after alerting) only when the catalog cannot be read, and InputError for a bad policy.
 */
export async function applyRetention(deps: RetentionDeps, options: RetentionOptions): Promise<RetentionReport> {
  const now = deps.clock();
  let backups: BackupEntry[];
  try {
    backups = options.database ? await deps.catalog.listByDatabase(options.database) : await deps.catalog.listAll();
  } catch (error) {
    const failure = asStrongboxError(error);
    await deps.alerts.publish({ type: 'RETENTION_FAILED', severity: 'SEV3', message: `retention could not read the catalog: ${failure.message}`, hint: failure.hint, code: failure.code, at: now.toISOString() });
    throw failure;
  }
  const plan = planRetention({ backups }, options.policy, now);
  const report: RetentionReport = { at: plan.now, dryRun: options.dryRun, policy: plan.policy, kept: [], cold: [], deleted: [], skipped: [], failed: [], bytesFreed: 0, notes: [] };
  for (const decision of plan.decisions) {
    deps.log.info('retention decision', { backupId: decision.id, database: decision.database, tier: decision.tier, state: decision.state, action: decision.action, rule: decision.rule, reason: decision.reason, dryRun: options.dryRun });
    if (decision.action === 'keep') report.kept.push(item(decision));
    if (decision.action === 'cold') report.cold.push(item(decision));
  }
  const deletions = plan.decisions.filter((decision) => decision.action === 'delete');
  // Finish what an earlier run committed to before starting anything new.
  deletions.sort((a, b) => Number(b.rule === 'FINISH_DELETION') - Number(a.rule === 'FINISH_DELETION'));
  const blocked = new Map<string, string | undefined>();
  for (const decision of deletions) {
    try {
      if (options.dryRun) {
        const bytes = await sizeOf(deps.storage, objectBatches(decision.entry).flat());
        report.deleted.push({ ...item(decision), bytes });
        report.bytesFreed += bytes;
        continue;
      }
      const why = await reasonToHoldBack(deps, plan, options, decision, blocked);
      if (why) {
        skip(deps, report, decision, why);
        continue;
      }
      const bytes = await deleteBackup(deps, decision);
      report.deleted.push({ ...item(decision), bytes });
      report.bytesFreed += bytes;
    } catch (error) {
      if (error instanceof ConflictError || error instanceof BackupNotFoundError) {
        skip(deps, report, decision, error.message);
        continue;
      }
      const failure = asStrongboxError(error);
      report.failed.push({ ...item(decision), code: failure.code, message: failure.message });
      deps.log.error('retention deletion failed', { backupId: decision.id, database: decision.database, code: failure.code, reason: failure.message });
    }
  }
  report.notes.push(VERSIONED_NOTE);
  if (report.cold.length) report.notes.push(COLD_NOTE);
  if (options.dryRun) report.notes.push('dry run: nothing was marked or deleted');
  if (report.failed.length) await alertFailures(deps, report);
  deps.log.info('retention applied', { dryRun: options.dryRun, kept: report.kept.length, cold: report.cold.length, deleted: report.deleted.length, skipped: report.skipped.length, failed: report.failed.length, bytesFreed: report.bytesFreed });
  return report;
}

async function alertFailures(deps: RetentionDeps, report: RetentionReport): Promise<void> {
  const [first] = report.failed;
  const single = report.failed.length === 1 ? first : undefined;
  await deps.alerts.publish({
    type: 'RETENTION_FAILED',
    severity: 'SEV3',
    message: `retention could not delete ${report.failed.length} backup(s): ${report.failed.map((failed) => `${failed.id} (${failed.code}: ${failed.message})`).join('; ')}`,
    hint: 'nothing restorable was lost; entries already marked are finished by the next run (`strongbox retention apply`) once the cause (storage, permissions) is fixed',
    ...(single ? { database: single.database, backupId: single.id } : {}),
    ...(first ? { code: first.code } : {}),
    at: report.at,
  });
}
