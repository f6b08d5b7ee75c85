import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnExecutionStarter } from '../shared/adapters/sfn/executions';
import type { InvokeDeps } from '../shared/adapters/sfn/invoke';
import { restoreCandidates } from '../shared/usecases/restore/candidates';
import type { Storage } from '../shared/ports/storage';
import { executionName, secretTargetLabel, type ExecutionInput } from '../shared/domain/invoke/execution';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { momentOf, parseRestoreTablePayload, type RestoreTablePayload } from '../shared/domain/invoke/restore-table';
import type { WalCatalog } from '../shared/ports/wal-catalog';
import type { PitrTarget } from '../shared/domain/wal/pitr-target';
import { previewTableAsOf } from '../shared/usecases/restore-table/as-of';
import { chooseTableBackup, planRestoreTable } from '../shared/domain/restore-table-plan';
import { summarizeTablePlan } from '../shared/domain/restore-table-summary';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { readManifest } from '../shared/usecases/index-manifest';
import { sizeJob } from '../shared/usecases/restore/resources';
import { partsBytes } from '../shared/usecases/restore/parts';

/** The restore-table task's job: the payload with the backup resolved and the mode decided. */
export type RestoreTableJob = Omit<RestoreTablePayload, 'dryRun'>;

/** A planned table restore needs the backup's manifest (its tables and row counts) besides the catalog. */
export interface RestoreTableInvokeDeps extends InvokeDeps {
  storage: Storage;
  /** Plans a restore as of a moment (base backup, WAL range). */
  walCatalog: WalCatalog;
}

/**
 * `sls invoke -f restoreTable --data '{…}'`: validates the payload, chooses the backup from the
 * catalog and matches the pattern against its manifest's tables (the same rules as
 * `strongbox restore-table`), and starts the restore-table state machine; `"dryRun": true`
 * returns the plan only. The scratch database is named by the task when it runs. The
 * execution's input holds the pattern and the resolved backup id (the task matches the
 * pattern again against the same manifest) and a summary naming at most TABLES_NAMED tables:
 * its size does not grow with the tables selected (Step Functions refuses over 256 KB).
 *
 * @throws InputError listing every problem of the payload; what chooseTableBackup and
 *   planRestoreTable throw (unknown backup, TABLE_NOT_IN_BACKUP…); ManifestError;
 *   BACKUP_TOO_LARGE_FOR_TASK when the dump cannot fit the task's disk (nothing started);
 *   ConflictError / TaskLaunchError from StartExecution.
 */
export function makeRestoreTableHandler(deps: RestoreTableInvokeDeps) {
  return async (event: unknown): Promise<Record<string, unknown>> => {
    const payload = parseRestoreTablePayload(event);
    const at = momentOf(payload);
    if (at) return startAsOf(deps, payload, at);
    const target = targetDatabaseOf(payload);
    const now = deps.clock();
    const backupId = payload.backupId ?? 'latest';
    const backup = chooseTableBackup({ entries: await restoreCandidates(deps.catalog, backupId, payload.database), backupId, database: payload.database, force: false });
    const manifest = await readManifest(deps.storage, backup.manifestKey);
    const plan = planRestoreTable({
      backup,
      manifestTables: manifest.tables,
      pgDatabase: manifest.source.pgDatabase,
      pattern: payload.table,
      mode: payload.mode,
      target: { database: target, redacted: secretTargetLabel(payload.target.secretArn, target) },
      now,
      nonce: 'planned',
    });
    // The task keeps the dump on its disk (the scratch database is on the target server).
    // A parallel backup: the pre-data part and the data parts holding the tables, at most every part.
    const size = { dumpBytes: partsBytes(manifest), compression: manifest.compression, databaseBytes: manifest.source.databaseSizeBytes };
    const { resources } = sizeJob('restore-table', size, { jobs: 1 });
    const keys = { backupId: backup.id, database: backup.database, target, mode: plan.mode, tables: plan.tables.length, ...resources };
    if (payload.dryRun) {
      deps.log.info('table restore planned (dry run): nothing started', keys);
      return { dryRun: true, plan: summarizeTablePlan(plan), resources };
    }
    const { dryRun: _dryRun, ...request } = payload;
    const input: ExecutionInput<RestoreTableJob> = { job: { ...request, backupId: backup.id }, plan: summarizeTablePlan(plan), resources };
    const { executionArn } = await deps.starter.start(executionName('restore-table', backup.id, now), input);
    deps.log.info('table restore started', { ...keys, executionArn });
    return { executionArn, plan: summarizeTablePlan(plan), resources };
  };
}

/**
 * A restore as of a moment: plans the recovery from the catalog (base backup, WAL range, space;
 * the tables are matched by the task once it has recovered them) and starts the machine with
 * the job, its `backupId` the chosen base backup.
 */
async function startAsOf(deps: RestoreTableInvokeDeps, payload: RestoreTablePayload, at: PitrTarget): Promise<Record<string, unknown>> {
  const target = targetDatabaseOf(payload);
  const preview = await previewTableAsOf(deps, {
    database: payload.database,
    at,
    target: { host: 'secret', port: 5432, user: 'secret', database: target },
    table: payload.table,
    mode: payload.mode,
    ...(payload.timeline !== undefined ? { timeline: payload.timeline } : {}),
    ...(payload.sourceDatabase !== undefined ? { sourceDatabase: payload.sourceDatabase } : {}),
  });
  const plan = { ...preview, target: secretTargetLabel(payload.target.secretArn, target) };
  // The task's disk holds the scratch cluster: at least the plan's bytes (a compressed base
  // backup unpacks to more); more than Fargate's 200 GiB is refused before anything starts.
  const { resources } = sizeJob('restore-table', { dumpBytes: preview.space.bytes, compression: 'none' }, { jobs: 1 });
  const keys = { database: payload.database, target, mode: payload.mode, baseBackup: preview.source.baseBackup, at: preview.source.target, ...resources };
  if (payload.dryRun) {
    deps.log.info('table restore as of a moment planned (dry run): nothing started', keys);
    return { dryRun: true, plan, resources };
  }
  const { dryRun: _dryRun, ...request } = payload;
  const input: ExecutionInput<RestoreTableJob> = { job: { ...request, backupId: preview.source.baseBackup }, plan: { ...plan }, resources };
  const { executionArn } = await deps.starter.start(executionName('restore-table', preview.source.baseBackup, deps.clock()), input);
  deps.log.info('table restore as of a moment started', { ...keys, executionArn });
  return { executionArn, plan, resources };
}

let deps: RestoreTableInvokeDeps | undefined;

/** The function's wiring from its environment (`clients`: given by tests against stand-ins). */
export function sfnDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { sfn: SFNClient }): RestoreTableInvokeDeps {
  return { ...awsDeps(env, lambdaLog, clients), starter: new SfnExecutionStarter(clients?.sfn ?? new SFNClient({}), requiredEnv(env, 'STRONGBOX_STATE_MACHINE_ARN')) };
}

export const handler = lambdaHandler('restore-table', (event: unknown) => makeRestoreTableHandler((deps ??= sfnDeps(process.env)))(event));
