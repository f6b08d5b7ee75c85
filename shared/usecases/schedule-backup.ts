import type { Catalog } from '../ports/catalog';
import type { BackupEntry, Compression, Tier } from '../domain/backup';
import { backupId, backupKeys } from '../domain/keys';
import { tierFor } from '../domain/schedule';
import { COMPUTE_STEPS, databaseBytesOf, planTaskCompute, type TaskCompute } from '../domain/task-sizing';
import { asStrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log, TaskLauncher } from '../ports';

export interface ScheduleDeps {
  catalog: Catalog;
  launcher: TaskLauncher;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
}

export interface ScheduledRun {
  database: string;
  /** The moment the schedule fired (EventBridge's event `time`): decides the tier and the id. */
  scheduledAt: Date;
  secretArn?: string;
  compression?: Compression;
  /** The config's dumpJobs (docs/backups.md), passed to the task. */
  dumpJobs?: number;
  /** A tier decided elsewhere (a catch-up run); by default the tier of `scheduledAt`. */
  tier?: Tier;
  /** A logical dump (default) or a physical base backup (zstd, no globals). */
  type?: 'logical' | 'base';
}

/**
 * The scheduled function's work: records the day's backup as RUNNING and launches the
 * dump task for it. The id is derived from the database and the scheduled time, so a
 * repeated delivery of the same event finds the entry and launches nothing.
 * Launch failure → FAILED + alert, and the error is rethrown.
 */
export async function launchScheduledBackup(deps: ScheduleDeps, run: ScheduledRun): Promise<{ entry: BackupEntry; launched: boolean }> {
  const tier = run.tier ?? tierFor(run.scheduledAt);
  const kind = run.type ?? 'logical';
  const id = backupId(kind, run.scheduledAt, `${run.database}@${run.scheduledAt.toISOString()}`);
  const compression = kind === 'base' ? 'zstd' : (run.compression ?? 'gzip');
  const keys = backupKeys(kind, tier, run.database, id, compression);
  const now = deps.clock().toISOString();
  const entry: BackupEntry = {
    id,
    database: run.database,
    kind,
    tier,
    scope: 'full',
    state: 'RUNNING',
    key: keys.dump,
    manifestKey: keys.manifest,
    ...(kind === 'logical' ? { globalsKey: keys.globals } : {}),
    compression,
    startedAt: now,
    heartbeatAt: now,
    runner: 'launching',
  };
  if (!(await deps.catalog.create(entry))) {
    deps.log.info('schedule event repeated: backup already recorded, nothing launched', { backupId: id, database: run.database });
    return { entry: (await deps.catalog.get(id)) ?? entry, launched: false };
  }
  const compute = await computeFor(deps, run.database, kind);
  try {
    const { runner } = await deps.launcher.launch({
      database: run.database,
      tier,
      backupId: id,
      ...(run.secretArn ? { secretArn: run.secretArn } : {}),
      ...(run.compression && kind === 'logical' ? { compression: run.compression } : {}),
      ...(run.dumpJobs !== undefined && kind === 'logical' ? { dumpJobs: run.dumpJobs } : {}),
      ...(kind === 'base' ? { type: 'base' as const } : {}),
      ...(compute ? { compute } : {}),
    });
    deps.log.info('backup task launched', { backupId: id, database: run.database, tier, runner, ...(compute ?? {}) });
    return { entry: await deps.catalog.update(id, { runner }), launched: true };
  } catch (error) {
    const failure = asStrongboxError(error);
    await deps.catalog.transition(id, 'FAILED', { reason: failure.message, errorCode: failure.code, finishedAt: deps.clock().toISOString() });
    await deps.alerts.publish({
      type: 'BACKUP_LAUNCH_FAILED',
      severity: 'SEV2',
      message: `could not start the ${tier} ${kind} backup of database ${run.database}: ${failure.message}`,
      hint: failure.hint,
      database: run.database,
      backupId: id,
      code: failure.code,
      at: deps.clock().toISOString(),
    });
    throw failure;
  }
}

/** How many of the database's newest entries are looked at for a verified one of the same kind. */
const SIZE_LOOKBACK = 20;

/**
 * The task's vCPU and memory from the size of the database's newest VERIFIED backup of this
 * kind (its dump, and 4 × that for the database: task-sizing's estimate), when that calls for
 * more than the smallest step; otherwise (a small or a first backup, an unreadable catalog)
 * undefined: the task definition's own size, which the operator may have raised.
 */
async function computeFor(deps: ScheduleDeps, database: string, kind: 'logical' | 'base'): Promise<TaskCompute | undefined> {
  let entries: BackupEntry[];
  try {
    entries = await deps.catalog.listByDatabase(database, { limit: SIZE_LOOKBACK });
  } catch (error) {
    deps.log.warn('no previous backup size: the task gets its definition\'s vCPU and memory', { database, error: String(error) });
    return undefined;
  }
  const last = entries.find((entry) => entry.kind === kind && entry.scope === 'full' && entry.state === 'VERIFIED' && entry.bytes !== undefined);
  if (!last?.bytes) return undefined;
  const compute = planTaskCompute(databaseBytesOf({ dumpBytes: last.bytes, compression: last.compression }));
  return compute.cpu > COMPUTE_STEPS[0]!.compute.cpu ? compute : undefined;
}
