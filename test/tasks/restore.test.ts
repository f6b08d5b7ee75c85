/**
 * The restore task program (tasks/restore.ts) on the local stack: exit codes for a bad job and
 * for SIGTERM, with the target untouched (its success path runs in test/stepfunctions/).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readDatabaseSecret } from '../../shared/adapters/secrets/database-secret';
import type { BackupEntry } from '../../shared/domain/backup';
import { JOB_EXIT } from '../../shared/domain/invoke/job';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runRestoreTask, type JobTaskIo } from '../../tasks/restore';
import { databaseNames, fingerprint } from '../support/restore';
import { startStack, type Stack } from '../support/stack';

const secrets = mockClient(SecretsManagerClient);
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/app-AbCdEf';
let stack: Stack;
let good: BackupEntry;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 200 });
  good = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'daily', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ host: '127.0.0.1', port: stack.conn.port, username: stack.conn.user, password: stack.conn.password, sslmode: 'disable' }) });
});

function task(job: unknown, onStop: JobTaskIo['onStop'] = () => undefined, free?: (path: string) => Promise<number>) {
  const env = job === undefined ? {} : { STRONGBOX_JOB: typeof job === 'string' ? job : JSON.stringify(job) };
  return runRestoreTask({ env, onStop }, (_env, log) => ({ ...stack.deps, ...pgRestoreDeps, log, readSecret: (arn, db) => readDatabaseSecret(new SecretsManagerClient({ region: 'eu-west-1' }), arn, db) }), free);
}

const job = { backupId: '', database: 'app', target: { secretArn: SECRET }, confirm: 'app', jobs: 1 };

describe('restore task program', () => {
  it.each([
    ['no job', undefined],
    ['a job that is not JSON', '{"backupId"'],
    ['a job with a password', { ...job, password: 'x' }],
    ['a job whose confirm is not the target', { ...job, confirm: 'other' }],
    ['a dry-run job', { ...job, dryRun: true }],
  ])('%s: exit 2, no secret read, nothing touched', async (_name, input) => {
    const before = await databaseNames(stack.conn);
    expect(await task(input === undefined || typeof input === 'string' ? input : { ...input, backupId: good.id })).toBe(JOB_EXIT.badInput);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(await databaseNames(stack.conn)).toEqual(before);
  });

  it('SIGTERM (ECS stop, Step Functions timeout): exit 143, the target as it was', async () => {
    // Arrange
    const before = { names: await databaseNames(stack.conn), app: await fingerprint(stack.conn) };
    // Act: the stop arrives while the restore starts
    const code = await task({ ...job, backupId: good.id }, (stop) => setImmediate(() => stop('SIGTERM')));
    // Assess
    expect(code).toBe(JOB_EXIT.interrupted);
    expect(await databaseNames(stack.conn)).toEqual(before.names);
    expect(await fingerprint(stack.conn)).toEqual(before.app);
  }, 60_000);

  it('a parallel restore whose dump does not fit the task\'s disk: exit 1 before any secret is read or database touched; jobs 1 needs no disk', async () => {
    const before = await databaseNames(stack.conn);
    const tiny = async () => 1000;
    expect(await task({ ...job, backupId: good.id, jobs: 2 }, undefined, tiny)).toBe(JOB_EXIT.failed);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(await databaseNames(stack.conn)).toEqual(before);
    // One job streams (or, from the repository folder, links): the disk is not even asked.
    expect(await task({ ...job, backupId: good.id, target: { secretArn: SECRET, database: 'app_tiny' }, confirm: 'app_tiny' }, undefined, () => Promise.reject(new Error('not asked')))).toBe(JOB_EXIT.ok);
  }, 60_000);

  it('restores the job\'s backup into the target named by the job, whatever the secret\'s dbname', async () => {
    const code = await task({ ...job, backupId: good.id, target: { secretArn: SECRET, database: 'app_task' }, confirm: 'app_task' });
    expect(code).toBe(JOB_EXIT.ok);
    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([{ SecretId: SECRET }]);
    expect((await fingerprint({ ...stack.conn, database: 'app_task' })).rows).toEqual((await fingerprint(stack.conn)).rows);
  }, 60_000);
});
