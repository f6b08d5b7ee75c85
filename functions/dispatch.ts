import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { AwsJobStarter } from '../shared/adapters/lambda/job-starter';
import type { DeployConfig } from '../shared/domain/deploy-config';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { packagedDeployConfig } from '../shared/runtime/deploy-config';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { dispatchDue, type DispatchDeps, type DispatchReport } from '../shared/usecases/dispatch';

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
 * STRONGBOX_WAL_CHECKPOINT_FUNCTION (names), STRONGBOX_VALIDATE_STATE_MACHINE_ARN.
 */
export function dispatchDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { lambda: LambdaClient; sfn: SFNClient }): DispatchDeps {
  const starter = new AwsJobStarter(clients?.lambda ?? new LambdaClient({}), clients?.sfn ?? new SFNClient({}), {
    scheduleBackupFunction: requiredEnv(env, 'STRONGBOX_SCHEDULE_BACKUP_FUNCTION'),
    walCheckpointFunction: requiredEnv(env, 'STRONGBOX_WAL_CHECKPOINT_FUNCTION'),
    validateStateMachineArn: requiredEnv(env, 'STRONGBOX_VALIDATE_STATE_MACHINE_ARN'),
  });
  const { alerts, log, clock } = awsDeps(env, lambdaLog, clients);
  return { starter, alerts, log, clock };
}

let handle: ((event: unknown) => Promise<DispatchReport>) | undefined;

export const handler = lambdaHandler('dispatch', (event: unknown) => (handle ??= dispatchHandler(dispatchDeps(process.env), packagedDeployConfig()))(event));
