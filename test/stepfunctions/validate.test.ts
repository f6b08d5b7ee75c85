/**
 * The validation state machine of deploy/stepfunctions.yml, run locally: its RunTask state runs
 * tasks/validate.ts for real (a throwaway PostgreSQL, the real restore, dynalite, a repository
 * folder), SNS is recorded. Success, a retried ECS refusal, and a bad backup alerting and failing.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SnsAlertPublisher } from '../../shared/adapters/sns/alerts';
import type { BackupEntry } from '../../shared/domain/backup';
import { pgValidationDeps } from '../../shared/runtime/validate-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runValidateTask } from '../../tasks/validate';
import { startStack, type Stack } from '../support/stack';
import { flipByte } from '../support/validate';
import { ARNS, definitionOf, ecsRefusal, ecsTask, execute, packagedTemplate, type RunTaskCall } from './support';

const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-test-alerts';
let stack: Stack;
let tmp: string;
let good: BackupEntry;
let definition: unknown;
let calls: RunTaskCall[];
let published: Array<Record<string, unknown>>;

beforeAll(async () => {
  [stack, definition] = await Promise.all([startStack({ storage: 'folder', rows: 200 }), packagedTemplate().then((cfn) => definitionOf(cfn, 'ValidateStateMachine'))]);
  tmp = await mkdtemp(join(tmpdir(), 'sbx-sfn-validate-'));
  await chmod(tmp, 0o755);
  good = await backup();
}, 240_000);
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  calls = [];
  published = [];
});

function backup(): Promise<BackupEntry> {
  return runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'monthly', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
}

/** The validation task as the container runs it, on the local stack; its alerts go to (mocked) SNS. */
const program = (io: Parameters<typeof runValidateTask>[0]) =>
  runValidateTask(io, (_env, log) => ({ ...stack.deps, ...pgValidationDeps, alerts: new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log), log, tmpDir: tmp }));

function runMachine(input: unknown, before?: (attempt: number) => void) {
  return execute(
    definition,
    input,
    {
      RunValidation: ecsTask({ 'node dist/task-validate.js': program }, { STRONGBOX_ALERT_TOPIC_ARN: TOPIC }, calls, before),
      PublishFailure: async (params) => {
        published.push(params);
        return { MessageId: 'sfn-1' };
      },
    },
    'validate-app-20261201040000',
  );
}

describe('validation state machine (monthly drill), run locally', () => {
  it('runs the drill as the dump image\'s validate program and succeeds; the result is in the catalog', async () => {
    // Act
    const { output, error } = await runMachine({ job: { backupId: 'latest', database: 'app' } });
    // Assess
    expect(error).toBeUndefined();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.params).toEqual({
      Cluster: ARNS['EcsCluster.Arn'],
      TaskDefinition: ARNS.DumpTaskDefinition,
      LaunchType: 'FARGATE',
      StartedBy: 'strongbox-validate',
      NetworkConfiguration: { AwsvpcConfiguration: { Subnets: [''], SecurityGroups: [''], AssignPublicIp: 'DISABLED' } },
      // No `resources` in the monthly input: Fargate's largest disk, the task definition's vCPU and memory.
      Overrides: {
        Cpu: '1024',
        Memory: '2048',
        EphemeralStorage: { SizeInGiB: 200 },
        ContainerOverrides: [{ Name: 'dump', Command: ['node', 'dist/task-validate.js'], Memory: 2048, Environment: [{ Name: 'STRONGBOX_JOB', Value: '{"backupId":"latest","database":"app"}' }] }],
      },
    });
    expect(calls[0]!.exitCode).toBe(0);
    expect(output).toEqual({
      job: { backupId: 'latest', database: 'app' },
      resources: { cpu: '1024', memory: '2048', containerMemory: 2048, ephemeralStorageGiB: 200 },
      task: { taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox-test/1' },
    });
    expect((await stack.catalog.get(good.id))?.lastValidation).toMatchObject({ ok: true });
    expect((await stack.catalog.get(good.id))?.state).toBe('VERIFIED');
    expect(published).toEqual([]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  }, 120_000);

  it('retries when ECS refuses to start the task, then drills', async () => {
    // Arrange: the first RunTask is refused (no capacity)
    const attempts: number[] = [];
    // Act
    const { error } = await runMachine({ job: { backupId: good.id, database: 'app' } }, (attempt) => {
      attempts.push(attempt);
      if (attempts.length === 1) throw ecsRefusal();
    });
    // Assess
    expect(error).toBeUndefined();
    expect(attempts).toHaveLength(2);
    expect(calls.map((call) => call.exitCode)).toEqual([0]);
    expect(published).toEqual([]);
  }, 120_000);

  it('a damaged backup: the task records and alerts, the machine publishes VALIDATION_FAILED and fails', async () => {
    // Arrange: a second backup with one flipped byte
    const bad = await backup();
    await flipByte(stack.rawStorage(), bad.key);
    // Act
    const { error } = await runMachine({ job: { backupId: bad.id, database: 'app' } });
    // Assess: the execution failed with the machine's error
    expect(error?.name).toBe('ExecutionError');
    expect((error?.cause as Error).name).toBe('VALIDATION_FAILED');
    expect(calls.map((call) => call.exitCode)).toEqual([1]);
    // the drill's own alert, with the reason
    const own = sns.commandCalls(PublishCommand).map((call) => call.args[0].input).filter((input) => JSON.parse(input.Message!).type === 'VALIDATION_FAILED');
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ TopicArn: TOPIC, Subject: '[SEV2] Strongbox VALIDATION_FAILED (app)' });
    expect(JSON.parse(own[0]!.Message!)).toMatchObject({ backupId: bad.id, code: 'CHECKSUM_MISMATCH' });
    // the machine's alert, also for a task that never ran
    expect(published).toHaveLength(1);
    const { Message: alert, ...rest } = published[0]! as { Message: Record<string, unknown> };
    expect(rest).toEqual({
      TopicArn: ARNS.AlertsTopic,
      Subject: '[SEV2] Strongbox VALIDATION_FAILED (app)',
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'VALIDATION_FAILED' },
        severity: { DataType: 'String', StringValue: 'SEV2' },
        database: { DataType: 'String', StringValue: 'app' },
        source: { DataType: 'String', StringValue: 'step-functions' },
      },
    });
    expect(alert).toMatchObject({ type: 'VALIDATION_FAILED', severity: 'SEV2', database: 'app', backupId: bad.id, code: 'States.TaskFailed', at: '2026-11-24T04:00:01.000Z' });
    expect(alert.message as string).toContain('execution validate-app-20261201040000');
    expect(alert.message as string).toContain('"ExitCode":1');
    // the catalog holds the failed drill; the good backup's result is untouched
    expect((await stack.catalog.get(bad.id))?.lastValidation).toMatchObject({ ok: false });
    expect((await stack.catalog.get(good.id))?.lastValidation).toMatchObject({ ok: true });
  }, 120_000);

  it('a job the task refuses (a password in it) fails the state and alerts', async () => {
    // Act
    const { error } = await runMachine({ job: { backupId: 'latest', database: 'app', password: 'x' } });
    // Assess
    expect((error?.cause as Error).name).toBe('VALIDATION_FAILED');
    expect(calls.map((call) => call.exitCode)).toEqual([2]);
    expect(published).toHaveLength(1);
    expect(JSON.stringify(published)).not.toContain('"x"');
  }, 60_000);
});
