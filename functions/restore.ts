import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnExecutionStarter } from '../shared/adapters/sfn/executions';
import type { InvokeDeps } from '../shared/adapters/sfn/invoke';
import { restoreCandidates } from '../shared/usecases/restore/candidates';
import { executionName, restorePlanSummary, secretTargetLabel, type ExecutionInput } from '../shared/domain/invoke/execution';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { parseRestorePayload, type RestorePayload } from '../shared/domain/invoke/restore';
import { planRestore } from '../shared/domain/restore-plan';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';

/** The restore task's job: the payload with the backup resolved, so that the task restores exactly the planned backup. */
export type RestoreJob = Omit<RestorePayload, 'dryRun'>;

/**
 * `sls invoke -f restore --data '{…}'`: validates the payload, plans the restore from the
 * catalog (the same rules as `strongbox restore`), and starts the restore state machine with
 * the job and the plan; `"dryRun": true` returns the plan only. The function never reads the
 * target's secret: the task does.
 *
 * @throws InputError listing every problem of the payload; what planRestore throws (unknown or
 *   unverified backup…); ConflictError / TaskLaunchError from StartExecution.
 */
export function makeRestoreHandler(deps: InvokeDeps) {
  return async (event: unknown) => {
    const payload = parseRestorePayload(event);
    const target = targetDatabaseOf(payload);
    const now = deps.clock();
    const plan = planRestore({
      entries: await restoreCandidates(deps.catalog, payload.backupId, payload.database),
      backupId: payload.backupId,
      database: payload.database,
      target: { database: target, redacted: secretTargetLabel(payload.target.secretArn, target) },
      now,
      force: false,
      dropFirst: payload.dropFirst ?? false,
      jobs: payload.jobs ?? 2,
    });
    const summary = restorePlanSummary(plan);
    const keys = { backupId: plan.backup.id, database: plan.database, target, dropFirst: plan.dropFirst };
    if (payload.dryRun) {
      deps.log.info('restore planned (dry run): nothing started', keys);
      return { dryRun: true, plan: summary };
    }
    const { dryRun: _dryRun, ...request } = payload;
    const input: ExecutionInput<RestoreJob> = { job: { ...request, backupId: plan.backup.id }, plan: summary };
    const { executionArn } = await deps.starter.start(executionName('restore', plan.backup.id, now), input);
    deps.log.info('restore started', { ...keys, executionArn });
    return { executionArn, plan: summary };
  };
}

let deps: InvokeDeps | undefined;

/** The function's wiring from its environment (`clients`: given by tests against stand-ins). */
export function sfnDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { sfn: SFNClient }): InvokeDeps {
  return { ...awsDeps(env, lambdaLog, clients), starter: new SfnExecutionStarter(clients?.sfn ?? new SFNClient({}), requiredEnv(env, 'STRONGBOX_STATE_MACHINE_ARN')) };
}

export const handler = lambdaHandler('restore', (event: unknown) => makeRestoreHandler((deps ??= sfnDeps(process.env)))(event));
