import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnExecutionStarter } from '../shared/adapters/sfn/executions';
import type { InvokeDeps } from '../shared/adapters/sfn/invoke';
import type { Storage } from '../shared/ports/storage';
import { backupSizeOf, restoreJobsFor, sizeJob } from '../shared/usecases/restore/resources';
import { restoreCandidates } from '../shared/usecases/restore/candidates';
import { executionName, restorePlanSummary, secretTargetLabel, type ExecutionInput } from '../shared/domain/invoke/execution';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { parseRestorePayload, type RestorePayload } from '../shared/domain/invoke/restore';
import { planRestore } from '../shared/domain/restore-plan';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';

/** The restore task's job: the payload with the backup resolved, so that the task restores exactly the planned backup. */
export type RestoreJob = Omit<RestorePayload, 'dryRun'>;

/** The catalog and state machine, and the storage whose manifests size the task (without it, the catalog's bytes do). */
export interface RestoreInvokeDeps extends InvokeDeps {
  storage?: Storage;
}

/**
 * `sls invoke -f restore --data '{…}'`: validates the payload, plans the restore from the
 * catalog (the same rules as `strongbox restore`), sizes the task from the backup (its disk,
 * vCPU and memory: `resources`; without `jobs`, 2 when the dump fits the task's disk, else 1,
 * streamed), and starts the restore state machine with the job, the plan and the resources;
 * `"dryRun": true` returns the plan only. The function never reads the target's secret: the
 * task does.
 *
 * @throws InputError listing every problem of the payload; what planRestore throws (unknown or
 *   unverified backup…); BACKUP_TOO_LARGE_FOR_TASK when the dump cannot fit the task's disk
 *   with these jobs (nothing started); ConflictError / TaskLaunchError from StartExecution.
 */
export function makeRestoreHandler(deps: RestoreInvokeDeps) {
  return async (event: unknown) => {
    const payload = parseRestorePayload(event);
    const target = targetDatabaseOf(payload);
    const now = deps.clock();
    const planned = {
      entries: await restoreCandidates(deps.catalog, payload.backupId, payload.database),
      backupId: payload.backupId,
      database: payload.database,
      target: { database: target, redacted: secretTargetLabel(payload.target.secretArn, target) },
      now,
      force: false,
      dropFirst: payload.dropFirst ?? false,
    };
    const chosen = planRestore({ ...planned, jobs: payload.jobs ?? 1 });
    const size = await backupSizeOf(chosen.backup, deps.storage);
    const jobs = restoreJobsFor(size, payload.jobs);
    const { resources, disk } = sizeJob('restore', size, { jobs });
    // The task reads from S3: one job streams (the plan's steps say so).
    const plan = planRestore({ ...planned, jobs, streamed: disk.path === 'stream' });
    const summary = { ...restorePlanSummary(plan), jobs, dumpPath: disk.path };
    const keys = { backupId: plan.backup.id, database: plan.database, target, dropFirst: plan.dropFirst, jobs, dumpPath: disk.path, ...resources };
    if (payload.dryRun) {
      deps.log.info('restore planned (dry run): nothing started', keys);
      return { dryRun: true, plan: summary, resources };
    }
    const { dryRun: _dryRun, ...request } = payload;
    const input: ExecutionInput<RestoreJob> = { job: { ...request, jobs, backupId: plan.backup.id }, plan: summary, resources };
    const { executionArn } = await deps.starter.start(executionName('restore', plan.backup.id, now), input);
    deps.log.info('restore started', { ...keys, executionArn });
    return { executionArn, plan: summary, resources };
  };
}

let deps: RestoreInvokeDeps | undefined;

/** The function's wiring from its environment (`clients`: given by tests against stand-ins). */
export function sfnDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { sfn: SFNClient }): RestoreInvokeDeps {
  return { ...awsDeps(env, lambdaLog, clients), starter: new SfnExecutionStarter(clients?.sfn ?? new SFNClient({}), requiredEnv(env, 'STRONGBOX_STATE_MACHINE_ARN')) };
}

export const handler = lambdaHandler('restore', (event: unknown) => makeRestoreHandler((deps ??= sfnDeps(process.env)))(event));
