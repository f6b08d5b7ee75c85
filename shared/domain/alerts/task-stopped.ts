import type { Alert } from '../../ports';
import { ALERT_TYPES } from './registry';

/**
 * Turns an ECS "task stopped" event into a TASK_FAILED alert, or nothing when every
 * container exited 0. A container without an exit code never ran or was killed (image
 * pull, secrets, Spot, OOM): that is a failure when ECS gives a reason.
 */

/** The part of the event's `detail` this needs (field names as ECS sends them). */
export interface StoppedTask {
  taskArn: string;
  clusterArn?: string;
  group?: string;
  stopCode?: string;
  stoppedReason?: string;
  stoppedAt?: string;
  containers?: Array<{ name?: string; exitCode?: number | null; reason?: string }>;
  overrides?: { containerOverrides?: Array<{ name?: string; environment?: Array<{ name?: string; value?: string }> }> };
  tags?: Array<{ key?: string; value?: string }>;
}

/** The backup a task was working on, from its RunTask overrides (or its tags). */
export function taskBackupOf(task: StoppedTask): { database?: string; backupId?: string } {
  const env = new Map<string, string>();
  for (const override of task.overrides?.containerOverrides ?? []) {
    for (const variable of override.environment ?? []) if (variable.name && variable.value) env.set(variable.name, variable.value);
  }
  const tags = new Map((task.tags ?? []).filter((tag) => tag.key && tag.value).map((tag) => [tag.key!, tag.value!]));
  const database = env.get('STRONGBOX_DATABASE') ?? tags.get('strongbox:database');
  const backupId = env.get('STRONGBOX_BACKUP_ID') ?? tags.get('strongbox:backup-id');
  return { ...(database ? { database } : {}), ...(backupId ? { backupId } : {}) };
}

function hintFor(text: string, exitCodes: number[]): string {
  if (/OutOfMemory/i.test(text) || exitCodes.includes(137)) {
    return 'the container ran out of memory (or was killed): raise the stage parameter taskMemory, then run the backup again';
  }
  if (/CannotPullContainer/i.test(text)) return 'ECS could not pull the image: check the stage parameter imageUri and that the image was pushed (docs/deploy.md)';
  if (/ResourceInitializationError|secret/i.test(text)) {
    return 'the task could not start: check that the subnets reach Secrets Manager, ECR and CloudWatch Logs (NAT or VPC endpoints) and that the secret exists';
  }
  return "read the task's log (log group /strongbox/<stage>/dump); the backup is marked FAILED by the task or by the watchdog, and the next schedule tries again";
}

/**
 * The TASK_FAILED alert for a stopped task, or undefined when it succeeded (every
 * container exited 0) or nothing says it failed. `now` is used when ECS sent no stop time.
 */
export function taskFailureAlert(task: StoppedTask, now: Date): Alert | undefined {
  const containers = task.containers ?? [];
  const failed = containers.filter((container) => typeof container.exitCode === 'number' && container.exitCode !== 0);
  const unfinished = containers.filter((container) => typeof container.exitCode !== 'number');
  const reason = task.stoppedReason ?? unfinished.find((container) => container.reason)?.reason;
  const neverFinished = unfinished.length > 0 || containers.length === 0;
  if (failed.length === 0 && !(neverFinished && reason)) return undefined;

  const { database, backupId } = taskBackupOf(task);
  const taskId = task.taskArn.split('/').pop() ?? task.taskArn;
  const exits = failed.map((container) => `container ${container.name ?? '?'} exited with ${container.exitCode}${container.reason ? ` (${container.reason})` : ''}`);
  const never = unfinished.map((container) => `container ${container.name ?? '?'} has no exit code${container.reason ? ` (${container.reason})` : ''}`);
  const details = [...exits, ...(failed.length === 0 ? never : []), ...(task.stoppedReason ? [`ECS: ${task.stoppedReason}`] : [])];
  const subject = `${database ? `of database ${database} ` : ''}${backupId ? `(backup ${backupId}) ` : ''}`;
  return {
    type: 'TASK_FAILED',
    severity: ALERT_TYPES.TASK_FAILED.severity,
    message: `ECS task ${taskId} ${subject}stopped${task.stopCode ? ` [${task.stopCode}]` : ''}: ${details.join('; ')}`,
    hint: hintFor(details.join(' '), failed.map((container) => container.exitCode as number)),
    ...(database ? { database } : {}),
    ...(backupId ? { backupId } : {}),
    code: 'TASK_FAILED',
    at: task.stoppedAt && !Number.isNaN(Date.parse(task.stoppedAt)) ? new Date(task.stoppedAt).toISOString() : now.toISOString(),
  };
}
