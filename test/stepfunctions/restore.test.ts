/**
 * The restore state machine of deploy/stepfunctions.yml, run locally: its RunTask state runs
 * tasks/restore.ts for real against the local stack (PostgreSQL, dynalite, a repository folder),
 * the target's secret comes from a mocked Secrets Manager, SNS publishes are recorded.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../shared/adapters/postgres/cluster';
import { readDatabaseSecret } from '../../shared/adapters/secrets/database-secret';
import type { BackupEntry } from '../../shared/domain/backup';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runRestoreTask } from '../../tasks/restore';
import { databaseNames, fingerprint } from '../support/restore';
import { startStack, type Stack } from '../support/stack';
import { ARNS, definitionOf, ecsRefusal, ecsTask, execute, packagedTemplate, type RunTaskCall } from './support';

const secrets = mockClient(SecretsManagerClient);
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/app-target-AbCdEf';
let stack: Stack;
let good: BackupEntry;
let definition: unknown;
let calls: RunTaskCall[];
let published: Array<{ state: string; params: Record<string, unknown> }>;

beforeAll(async () => {
  [stack, definition] = await Promise.all([startStack({ storage: 'folder', rows: 300 }), packagedTemplate().then((cfn) => definitionOf(cfn, 'RestoreStateMachine'))]);
  good = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'daily', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
}, 240_000);
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  calls = [];
  published = [];
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: SECRET }).resolves({
    SecretString: JSON.stringify({ host: '127.0.0.1', port: stack.conn.port, username: stack.conn.user, password: stack.conn.password, dbname: 'postgres', sslmode: 'disable' }),
  });
});

/** The restore task as the container runs it, on the local stack. */
const program = (io: Parameters<typeof runRestoreTask>[0]) =>
  runRestoreTask(io, (_env, log) => ({ ...stack.deps, ...pgRestoreDeps, log, readSecret: (arn, fallback) => readDatabaseSecret(new SecretsManagerClient({ region: 'eu-west-1' }), arn, fallback) }));

function job(target: string) {
  return { backupId: good.id, database: 'app', target: { secretArn: SECRET, database: target }, confirm: target, jobs: 1 };
}

function runMachine(input: unknown, before?: (attempt: number) => void) {
  const record = (state: string) => async (params: Record<string, unknown>) => {
    published.push({ state, params });
    return { MessageId: `${state}-1` };
  };
  return execute(definition, input, { RunRestore: ecsTask({ 'node dist/task-restore.js': program }, {}, calls, before), PublishSuccess: record('PublishSuccess'), PublishFailure: record('PublishFailure') }, 'restore-x-20261124040000');
}

describe('restore state machine, run locally', () => {
  it('restores through the restore program, reads only the named secret, and publishes RESTORE_FINISHED', async () => {
    // Act
    const resources = { cpu: '2048', memory: '4096', containerMemory: 4096, ephemeralStorageGiB: 93 };
    const { output, error } = await runMachine({ job: job('app_restored'), plan: { backupId: good.id }, resources });
    // Assess
    expect(error).toBeUndefined();
    expect(calls).toHaveLength(1);
    const container = calls[0]!.params.Overrides.ContainerOverrides[0];
    expect(container).toEqual({ Name: 'dump', Command: ['node', 'dist/task-restore.js'], Memory: 4096, Environment: [{ Name: 'STRONGBOX_JOB', Value: JSON.stringify(job('app_restored')) }] });
    // The function's sizing reaches RunTask: disk, vCPU and memory of this run.
    expect(calls[0]!.params.Overrides).toMatchObject({ Cpu: '2048', Memory: '4096', EphemeralStorage: { SizeInGiB: 93 } });
    expect(calls[0]!.params).toMatchObject({ Cluster: ARNS['EcsCluster.Arn'], TaskDefinition: ARNS.DumpTaskDefinition, LaunchType: 'FARGATE', StartedBy: 'strongbox-restore' });
    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([{ SecretId: SECRET }]);
    const [original, restored] = await Promise.all([fingerprint(stack.conn), fingerprint({ ...stack.conn, database: 'app_restored' })]);
    expect(restored).toEqual(original);
    expect(published).toEqual([
      {
        state: 'PublishSuccess',
        params: {
          TopicArn: ARNS.AlertsTopic,
          Subject: '[SEV4] Strongbox RESTORE_FINISHED (app)',
          Message: {
            type: 'RESTORE_FINISHED',
            severity: 'SEV4',
            message: `restore of backup ${good.id} of database app finished (execution restore-x-20261124040000); a database it replaced is kept as <name>_before_restore_<time> for you to drop`,
            database: 'app',
            backupId: good.id,
            at: '2026-11-24T04:00:01.000Z',
          },
          MessageAttributes: {
            type: { DataType: 'String', StringValue: 'RESTORE_FINISHED' },
            severity: { DataType: 'String', StringValue: 'SEV4' },
            database: { DataType: 'String', StringValue: 'app' },
            source: { DataType: 'String', StringValue: 'step-functions' },
          },
        },
      },
    ]);
    expect(output).toMatchObject({ job: job('app_restored'), task: { taskArn: expect.stringContaining(':task/strongbox-test/') } });
  }, 120_000);

  it('retries when ECS refuses to start the task; the second restore keeps the replaced database', async () => {
    // Arrange
    const attempts: number[] = [];
    // Act
    const { error } = await runMachine({ job: job('app_restored') }, (attempt) => {
      attempts.push(attempt);
      if (attempts.length === 1) throw ecsRefusal();
    });
    // Assess
    expect(error).toBeUndefined();
    expect(attempts).toHaveLength(2);
    expect(calls.map((call) => call.exitCode)).toEqual([0]);
    expect((await databaseNames(stack.conn)).filter((name) => name.startsWith('app_restored_before_restore_'))).toHaveLength(1);
    expect(published.map((p) => p.state)).toEqual(['PublishSuccess']);
  }, 120_000);

  it('an unreachable target: the task exits 1, RESTORE_FAILED (SEV1) is published, the execution fails, nothing changed', async () => {
    // Arrange: the secret names a port where nothing listens
    const port = await freePort();
    secrets.on(GetSecretValueCommand, { SecretId: SECRET }).resolves({ SecretString: JSON.stringify({ host: '127.0.0.1', port, username: 'postgres', password: 'p', sslmode: 'disable' }) });
    const before = await databaseNames(stack.conn);
    // Act
    const { error } = await runMachine({ job: job('app') });
    // Assess
    expect((error?.cause as Error).name).toBe('RESTORE_FAILED');
    expect(calls.map((call) => call.exitCode)).toEqual([1]);
    expect(published.map((p) => p.state)).toEqual(['PublishFailure']);
    const { Message: alert, ...rest } = published[0]!.params as { Message: Record<string, unknown> };
    expect(rest).toMatchObject({ TopicArn: ARNS.AlertsTopic, Subject: '[SEV1] Strongbox RESTORE_FAILED (app)' });
    expect(alert).toMatchObject({ type: 'RESTORE_FAILED', severity: 'SEV1', database: 'app', backupId: good.id, code: 'States.TaskFailed' });
    expect(alert.message as string).toContain('"ExitCode":1');
    expect(JSON.stringify(published)).not.toContain('"p"');
    expect(await databaseNames(stack.conn)).toEqual(before);
  }, 120_000);
});
