import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnExecutionStarter } from '../shared/adapters/sfn/executions';
import type { InvokeDeps } from '../shared/adapters/sfn/invoke';
import { executionName, type ExecutionInput } from '../shared/domain/invoke/execution';
import { parseValidatePayload, type ValidatePayload } from '../shared/domain/invoke/validate';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { resolveDrillBackup } from '../shared/usecases/validate/steps';

/** The validation task's job: which backup to drill (the monthly schedule sends `latest`). */
export type ValidateJob = Omit<ValidatePayload, 'dryRun'>;

/**
 * `sls invoke -f validate --data '{…}'`: validates the payload, resolves the backup to drill
 * from the catalog (the same rules as `strongbox validate`), and starts the validation state
 * machine, which restores it into a throwaway PostgreSQL inside the task; `"dryRun": true`
 * returns the plan only.
 *
 * @throws InputError listing every problem of the payload; what resolveDrillBackup throws
 *   (unknown, unverified or no backup); ConflictError / TaskLaunchError from StartExecution.
 */
export function makeValidateHandler(deps: InvokeDeps) {
  return async (event: unknown) => {
    const payload = parseValidatePayload(event);
    const backup = await resolveDrillBackup(deps.catalog, payload.backupId, payload.database);
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
    const keys = { backupId: backup.id, database: backup.database };
    if (payload.dryRun) {
      deps.log.info('validation planned (dry run): nothing started', keys);
      return { dryRun: true, plan };
    }
    const input: ExecutionInput<ValidateJob> = { job: { backupId: backup.id, database: backup.database }, plan };
    const { executionArn } = await deps.starter.start(executionName('validate', backup.id, deps.clock()), input);
    deps.log.info('validation started', { ...keys, executionArn });
    return { executionArn, plan };
  };
}

let deps: InvokeDeps | undefined;

/** The function's wiring from its environment (`clients`: given by tests against stand-ins). */
export function sfnDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { sfn: SFNClient }): InvokeDeps {
  return { ...awsDeps(env, lambdaLog, clients), starter: new SfnExecutionStarter(clients?.sfn ?? new SFNClient({}), requiredEnv(env, 'STRONGBOX_STATE_MACHINE_ARN')) };
}

export const handler = lambdaHandler('validate', (event: unknown) => makeValidateHandler((deps ??= sfnDeps(process.env)))(event));
