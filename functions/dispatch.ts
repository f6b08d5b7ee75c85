import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { AwsJobStarter, jobPayload, type DrillInput } from '../shared/adapters/lambda/job-starter';
import type { DeployConfig } from '../shared/domain/deploy-config';
import { asStrongboxError } from '../shared/errors';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { packagedDeployConfig } from '../shared/runtime/deploy-config';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { dispatchDue, type DispatchDeps, type DispatchReport } from '../shared/usecases/dispatch';
import { physicalDrillInput } from '../shared/usecases/dispatch-drill';

/**
 * The moment the dispatcher's rule fired: EventBridge's `time` (the same for a retried
 * invocation, so the same window is dispatched again), else now (an `sls invoke` by hand).
 */
export function firedAtOf(event: unknown, now: Date): Date {
  const time = event && typeof event === 'object' ? (event as { time?: unknown }).time : undefined;
  const at = typeof time === 'string' ? new Date(time) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : now;
}

/** Every minute: starts the jobs of the packaged config due in the minute that ended (see dispatchDue). */
export function dispatchHandler(deps: DispatchDeps, config: DeployConfig) {
  return async (event: unknown): Promise<DispatchReport> => dispatchDue(deps, config, firedAtOf(event, deps.clock()));
}

/**
 * The wiring from the environment: STRONGBOX_SCHEDULE_BACKUP_FUNCTION and
 * STRONGBOX_WAL_CHECKPOINT_FUNCTION (names), STRONGBOX_VALIDATE_STATE_MACHINE_ARN; the catalog
 * and storage (awsDeps) choose and size the monthly physical drill.
 */
export function dispatchDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { lambda: LambdaClient; sfn: SFNClient }, random?: () => number): DispatchDeps {
  const aws = awsDeps(env, lambdaLog, clients);
  const drillInput: DrillInput = async (job) => {
    if (job.kind !== 'pitr-drill') return jobPayload(job);
    try {
      return await physicalDrillInput({ ...aws, ...(random ? { random } : {}) }, job.database.name);
    } catch (error) {
      // Unsized, the task chooses the backup itself and checks its disk: what stops it (no base
      // backup, no logical backup in the window, too large) is recorded and alerted as a drill's failure.
      const failure = asStrongboxError(error);
      aws.log.warn('dispatch: physical drill not sized, started unsized', { database: job.database.name, code: failure.code, reason: failure.message });
      return jobPayload(job);
    }
  };
  const starter = new AwsJobStarter(
    clients?.lambda ?? new LambdaClient({}),
    clients?.sfn ?? new SFNClient({}),
    {
      scheduleBackupFunction: requiredEnv(env, 'STRONGBOX_SCHEDULE_BACKUP_FUNCTION'),
      walCheckpointFunction: requiredEnv(env, 'STRONGBOX_WAL_CHECKPOINT_FUNCTION'),
      validateStateMachineArn: requiredEnv(env, 'STRONGBOX_VALIDATE_STATE_MACHINE_ARN'),
    },
    drillInput,
  );
  return { starter, alerts: aws.alerts, log: aws.log, clock: aws.clock };
}

let handle: ((event: unknown) => Promise<DispatchReport>) | undefined;

export const handler = lambdaHandler('dispatch', (event: unknown) => (handle ??= dispatchHandler(dispatchDeps(process.env), packagedDeployConfig()))(event));
