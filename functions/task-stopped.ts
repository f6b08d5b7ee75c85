import { z } from 'zod';
import { taskFailureAlert, type StoppedTask } from '../shared/domain/alerts/task-stopped';
import { InputError } from '../shared/errors';
import type { AlertPublisher, Clock, Log } from '../shared/ports';
import { awsAlerts } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';

/**
 * EventBridge rule "ECS Task State Change", lastStatus STOPPED, this stack's cluster:
 * publishes TASK_FAILED when a container exited non-zero (or never ran, with a reason),
 * with the backup id and database from the task's RunTask overrides. Exit 0 → nothing.
 */
export interface TaskStoppedDeps {
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  /** Events of other clusters are ignored (the rule already filters; this is defence in depth). */
  clusterArn?: string;
}

const container = z.looseObject({ name: z.string().optional(), exitCode: z.number().int().nullish(), reason: z.string().optional() });
const keyValue = z.looseObject({ name: z.string().optional(), value: z.string().optional() });
const ecsEvent = z.looseObject({
  'detail-type': z.literal('ECS Task State Change'),
  detail: z.looseObject({
    taskArn: z.string(),
    clusterArn: z.string().optional(),
    lastStatus: z.string(),
    group: z.string().optional(),
    stopCode: z.string().optional(),
    stoppedReason: z.string().optional(),
    stoppedAt: z.string().optional(),
    containers: z.array(container).optional(),
    overrides: z.looseObject({ containerOverrides: z.array(z.looseObject({ name: z.string().optional(), environment: z.array(keyValue).optional() })).optional() }).optional(),
    tags: z.array(z.looseObject({ key: z.string().optional(), value: z.string().optional() })).optional(),
  }),
});

/** What the handler did with one event. */
export type TaskStoppedResult = { alerted: true; type: string; backupId?: string } | { alerted: false; reason: 'succeeded' | 'not stopped' | 'other cluster' };

/** The handler over its dependencies. Throws InputError for an event that is not an ECS task state change. */
export function taskStoppedHandler(deps: TaskStoppedDeps) {
  return async (event: unknown): Promise<TaskStoppedResult> => {
    const parsed = ecsEvent.safeParse(event);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
      throw new InputError(`not an ECS task state change event: ${problems.join('; ')}`, 'this function is meant for the EventBridge rule of deploy/alerts.yml');
    }
    const detail = parsed.data.detail;
    if (detail.lastStatus !== 'STOPPED') return { alerted: false, reason: 'not stopped' };
    if (deps.clusterArn && detail.clusterArn && detail.clusterArn !== deps.clusterArn) return { alerted: false, reason: 'other cluster' };
    const alert = taskFailureAlert(detail as StoppedTask, deps.clock());
    if (!alert) {
      deps.log.info('ECS task stopped after success', { taskArn: detail.taskArn, stopCode: detail.stopCode });
      return { alerted: false, reason: 'succeeded' };
    }
    deps.log.error('ECS task failed', { taskArn: detail.taskArn, database: alert.database, backupId: alert.backupId, stopCode: detail.stopCode, reason: alert.message });
    await deps.alerts.publish(alert);
    return { alerted: true, type: alert.type, ...(alert.backupId ? { backupId: alert.backupId } : {}) };
  };
}

let deps: TaskStoppedDeps | undefined;

export const handler = lambdaHandler('taskStopped', (event: unknown) =>
  taskStoppedHandler(
    (deps ??= {
      alerts: awsAlerts(process.env, lambdaLog),
      log: lambdaLog,
      clock: () => new Date(),
      ...(process.env.STRONGBOX_CLUSTER_ARN ? { clusterArn: process.env.STRONGBOX_CLUSTER_ARN } : {}),
    }),
  )(event),
);
