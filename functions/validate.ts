import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnExecutionStarter } from '../shared/adapters/sfn/executions';
import type { InvokeDeps } from '../shared/adapters/sfn/invoke';
import type { Storage } from '../shared/ports/storage';
import type { WalCatalog } from '../shared/ports/wal-catalog';
import type { BackupEntry } from '../shared/domain/backup';
import { backupSizeOf, physicalDrillSizeOf, sizeDrill, sizeJob, type JobSizing } from '../shared/usecases/restore/resources';
import { executionName, type ExecutionInput } from '../shared/domain/invoke/execution';
import { parseValidatePayload, type ValidatePayload } from '../shared/domain/invoke/validate';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { chooseDrillBackup } from '../shared/usecases/pitr-drill/choose';
import { resolveDrillBackup } from '../shared/usecases/validate/steps';

/** The validation task's job: which backup to drill (the monthly schedule sends `latest`). */
export type ValidateJob = Omit<ValidatePayload, 'dryRun'>;

/** The catalog and state machine, and the storage whose manifests size the task (without it, the catalog's bytes do). */
export interface ValidateInvokeDeps extends InvokeDeps {
  storage?: Storage;
  /** With storage: sizes a physical drill from its base backup and WAL (without, as the logical drill). */
  walCatalog?: WalCatalog;
}

/**
 * The task of a physical drill of `backup`: sized from the base backup it recovers and the WAL
 * it replays (sizeDrill) when the catalogs and storage are at hand, else as the logical drill.
 *
 * @throws what physicalDrillSizeOf throws (no base backup before the instant, a WAL gap, the
 *   instant not archived yet); BACKUP_TOO_LARGE_FOR_TASK.
 */
export async function sizePhysicalDrill(deps: ValidateInvokeDeps, backup: BackupEntry): Promise<JobSizing> {
  if (!deps.storage || !deps.walCatalog) return sizeJob('validate', await backupSizeOf(backup, deps.storage), { jobs: 1, scratchInTask: true });
  return sizeDrill(await physicalDrillSizeOf({ catalog: deps.catalog, walCatalog: deps.walCatalog, storage: deps.storage, log: deps.log }, backup));
}

/**
 * `sls invoke -f validate --data '{…}'`: validates the payload, resolves the backup to drill
 * from the catalog (the same rules as `strongbox validate`), sizes the task's disk (the dump
 * and the restored database), vCPU and memory from it (`resources`), and starts the
 * validation state machine, which restores it into a throwaway PostgreSQL inside the task;
 * `"dryRun": true` returns the plan only.
 *
 * @throws InputError listing every problem of the payload; what resolveDrillBackup throws
 *   (unknown, unverified or no backup); BACKUP_TOO_LARGE_FOR_TASK when the drill cannot fit
 *   the task's disk (nothing started); ConflictError / TaskLaunchError from StartExecution.
 */
export function makeValidateHandler(deps: ValidateInvokeDeps) {
  return async (event: unknown) => {
    const payload = parseValidatePayload(event);
    if (payload.pitr) return startPitrDrill(deps, payload);
    const backup = await resolveDrillBackup(deps.catalog, payload.backupId, payload.database);
    const { resources } = sizeJob('validate', await backupSizeOf(backup, deps.storage), { jobs: 1, scratchInTask: true });
    const plan = {
      backupId: backup.id,
      database: backup.database,
      startedAt: backup.startedAt,
      scratch: 'a throwaway PostgreSQL started inside the validation task, removed afterwards',
      steps: [
        `start a throwaway PostgreSQL in the task`,
        `download ${backup.key} once and check its SHA-256 against the manifest`,
        'restore it (pg_restore) and verify every table and row count against the manifest, timing it (the measured RTO)',
        `record the result as the backup's lastValidation (its state stays ${backup.state}); on failure publish VALIDATION_FAILED`,
      ],
    };
    const keys = { backupId: backup.id, database: backup.database, ...resources };
    if (payload.dryRun) {
      deps.log.info('validation planned (dry run): nothing started', keys);
      return { dryRun: true, plan, resources };
    }
    const input: ExecutionInput<ValidateJob> = { job: { backupId: backup.id, database: backup.database }, plan, resources };
    const { executionArn } = await deps.starter.start(executionName('validate', backup.id, deps.clock()), input);
    deps.log.info('validation started', { ...keys, executionArn });
    return { executionArn, plan, resources };
  };
}

/**
 * The physical drill (`"pitr": true`): chooses the logical backup (`latest`, `random` — drawn
 * here, so the execution names it — or an id) and starts the validation state machine with
 * `pitr` in the job; the task recovers a scratch cluster to that backup's instant.
 */
async function startPitrDrill(deps: ValidateInvokeDeps, payload: ValidatePayload) {
  const backup = await chooseDrillBackup(deps.catalog, payload.to ?? payload.backupId, payload.database);
  const { resources } = await sizePhysicalDrill(deps, backup);
  const plan = {
    backupId: backup.id,
    database: backup.database,
    startedAt: backup.startedAt,
    scratch: 'a scratch cluster recovered inside the validation task, removed afterwards',
    steps: [
      `read the manifest of ${backup.id}: its snapshot's instant in the WAL, each table's rows and checksum`,
      'unpack the base backup before that instant (SHA-256 checked) and replay the archived WAL to exactly that instant (through the archive endpoint)',
      'compare every table it can compare exactly with the manifest, naming the others; promote the scratch and run pg_amcheck',
      `record the result as the backup's lastPitrDrill; on failure publish VALIDATION_FAILED`,
    ],
  };
  const keys = { backupId: backup.id, database: backup.database, pitr: true, ...resources };
  if (payload.dryRun) {
    deps.log.info('physical drill planned (dry run): nothing started', keys);
    return { dryRun: true, pitr: true, plan, resources };
  }
  const input: ExecutionInput<ValidateJob> = { job: { backupId: backup.id, database: backup.database, pitr: true }, plan, resources };
  const { executionArn } = await deps.starter.start(executionName('validate', backup.id, deps.clock()), input);
  deps.log.info('physical drill started', { ...keys, executionArn });
  return { executionArn, pitr: true, plan, resources };
}

let deps: ValidateInvokeDeps | undefined;

/** The function's wiring from its environment (`clients`: given by tests against stand-ins). */
export function sfnDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { sfn: SFNClient }): ValidateInvokeDeps {
  return { ...awsDeps(env, lambdaLog, clients), starter: new SfnExecutionStarter(clients?.sfn ?? new SFNClient({}), requiredEnv(env, 'STRONGBOX_STATE_MACHINE_ARN')) };
}

export const handler = lambdaHandler('validate', (event: unknown) => makeValidateHandler((deps ??= sfnDeps(process.env)))(event));
