import { describe, expect, it } from 'vitest';
import { taskBackupOf, taskFailureAlert, type StoppedTask } from '../../../../shared/domain/alerts/task-stopped';

const NOW = new Date('2026-11-24T03:10:00Z');
const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox-prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const overrides = {
  containerOverrides: [{ name: 'dump', environment: [{ name: 'STRONGBOX_DATABASE', value: 'app' }, { name: 'STRONGBOX_TIER', value: 'daily' }, { name: 'STRONGBOX_BACKUP_ID', value: '20261124T030000Z-l-1a2b3c' }] }],
};
const task = (fields: Partial<StoppedTask>): StoppedTask => ({ taskArn: TASK, stoppedAt: '2026-11-24T03:09:58.123Z', overrides, ...fields });

describe('ECS task stopped → TASK_FAILED', () => {
  it.each([
    ['every container exited 0', task({ containers: [{ name: 'dump', exitCode: 0 }], stoppedReason: 'Essential container in task exited' })],
    ['no containers and no reason', task({ containers: [] })],
    ['a missing exit code without any reason', task({ containers: [{ name: 'dump' }] })],
  ])('nothing when %s', (_name, input) => {
    expect(taskFailureAlert(input, NOW)).toBeUndefined();
  });

  it('a non-zero exit: the exit code, the ECS reason, the backup from the overrides', () => {
    expect(taskFailureAlert(task({ stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited', containers: [{ name: 'dump', exitCode: 1 }] }), NOW)).toEqual({
      type: 'TASK_FAILED',
      severity: 'SEV2',
      message: 'ECS task 0f1e2d3c4b5a69788796a5b4c3d2e1f0 of database app (backup 20261124T030000Z-l-1a2b3c) stopped [EssentialContainerExited]: container dump exited with 1; ECS: Essential container in task exited',
      hint: "read the task's log (log group /strongbox/<stage>/dump); the backup is marked FAILED by the task or by the watchdog, and the next schedule tries again",
      database: 'app',
      backupId: '20261124T030000Z-l-1a2b3c',
      code: 'TASK_FAILED',
      at: '2026-11-24T03:09:58.123Z',
    });
  });

  it.each([
    ['out of memory', task({ containers: [{ name: 'dump', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }] }), /taskMemory/, /exited with 137 \(OutOfMemoryError/],
    ['image pull', task({ stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)', containers: [{ name: 'dump' }] }), /imageUri/, /has no exit code; ECS: CannotPullContainerError/],
    ['secrets at start', task({ stopCode: 'TaskFailedToStart', stoppedReason: 'ResourceInitializationError: unable to pull secrets or registry auth', containers: [] }), /Secrets Manager/, /ECS: ResourceInitializationError/],
    ['a container reason without task reason', task({ containers: [{ name: 'dump', reason: 'CannotStartContainerError' }] }), /task's log/, /has no exit code \(CannotStartContainerError\)/],
  ])('fails with a hint for %s', (_name, input, hint, message) => {
    const alert = taskFailureAlert(input, NOW)!;
    expect(alert.hint).toMatch(hint);
    expect(alert.message).toMatch(message);
  });

  it('takes the backup from the tags when there are no overrides, and `now` without a stop time', () => {
    const input: StoppedTask = { taskArn: TASK, containers: [{ name: 'dump', exitCode: 2 }], tags: [{ key: 'strongbox:database', value: 'crm' }, { key: 'strongbox:backup-id', value: 'b-9' }] };
    expect(taskBackupOf(input)).toEqual({ database: 'crm', backupId: 'b-9' });
    expect(taskFailureAlert(input, NOW)).toMatchObject({ database: 'crm', backupId: 'b-9', at: NOW.toISOString() });
    expect(taskBackupOf({ taskArn: TASK })).toEqual({});
  });
});
