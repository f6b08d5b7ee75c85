/**
 * The restore-table state machine of deploy/stepfunctions.yml, run locally: its RunTask state
 * runs tasks/restore-table.ts for real against the local stack; the secret comes from a mocked
 * Secrets Manager and SNS publishes are recorded.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pgRestoreTableDeps } from '../../shared/runtime/table-restore-deps';
import { readDatabaseSecret } from '../../shared/adapters/secrets/database-secret';
import type { BackupEntry } from '../../shared/domain/backup';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runRestoreTableTask } from '../../tasks/restore-table';
import { sql } from '../support/restore';
import { startStack, type Stack } from '../support/stack';
import { definitionOf, ecsTask, execute, packagedTemplate, type RunTaskCall } from './support';

const secrets = mockClient(SecretsManagerClient);
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/app-AbCdEf';
let stack: Stack;
let good: BackupEntry;
let definition: unknown;
let calls: RunTaskCall[];
let published: Array<{ state: string; params: Record<string, unknown> }>;

beforeAll(async () => {
  [stack, definition] = await Promise.all([startStack({ storage: 'folder', rows: 150 }), packagedTemplate().then((cfn) => definitionOf(cfn, 'RestoreTableStateMachine'))]);
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
    SecretString: JSON.stringify({ host: '127.0.0.1', port: stack.conn.port, username: stack.conn.user, password: stack.conn.password, sslmode: 'disable' }),
  });
});

const program = (io: Parameters<typeof runRestoreTableTask>[0]) =>
  runRestoreTableTask(io, (_env, log) => ({ ...stack.deps, ...pgRestoreTableDeps, log, nonce: () => 'sfntest', readSecret: (arn, fallback) => readDatabaseSecret(new SecretsManagerClient({ region: 'eu-west-1' }), arn, fallback) }));

function runMachine(job: Record<string, unknown>) {
  const record = (state: string) => async (params: Record<string, unknown>) => {
    published.push({ state, params });
    return { MessageId: `${state}-1` };
  };
  return execute(definition, { job }, { RunRestoreTable: ecsTask({ 'node dist/task-restore-table.js': program }, {}, calls), PublishSuccess: record('PublishSuccess'), PublishFailure: record('PublishFailure') }, 'restore-table-x');
}

const job = { backupId: '', database: 'app', table: '"Sales".orders', mode: 'side-by-side', target: { secretArn: SECRET }, confirm: 'app' };

describe('restore-table state machine, run locally', () => {
  it('restores a table side by side through the restore-table program and publishes RESTORE_TABLE_FINISHED', async () => {
    // Act
    const { error } = await runMachine({ ...job, backupId: good.id });
    // Assess
    expect(error).toBeUndefined();
    expect(calls.map((call) => [call.params.Overrides.ContainerOverrides[0].Command, call.exitCode])).toEqual([[['node', 'dist/task-restore-table.js'], 0]]);
    const tables = await sql(stack.conn, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'Sales' AND table_name LIKE 'orders_restored_%'`);
    expect(tables).toHaveLength(1);
    const name = String(tables[0]!.table_name);
    const [restored, original] = await Promise.all([
      sql(stack.conn, `SELECT count(*)::int AS n FROM "Sales"."${name}"`),
      sql(stack.conn, 'SELECT count(*)::int AS n FROM "Sales".orders'),
    ]);
    expect(restored).toEqual(original);
    expect(published.map((p) => [p.state, p.params.Subject])).toEqual([['PublishSuccess', '[SEV4] Strongbox RESTORE_TABLE_FINISHED (app)']]);
  }, 120_000);

  it('a table the backup does not hold: exit 1, RESTORE_TABLE_FAILED (SEV2) published, the execution fails', async () => {
    // Act
    const { error } = await runMachine({ ...job, backupId: good.id, table: 'public.nope' });
    // Assess
    expect((error?.cause as Error).name).toBe('RESTORE_TABLE_FAILED');
    expect(calls.map((call) => call.exitCode)).toEqual([1]);
    expect(published.map((p) => [p.state, p.params.Subject])).toEqual([['PublishFailure', '[SEV2] Strongbox RESTORE_TABLE_FAILED (app)']]);
    expect(published[0]!.params.Message).toMatchObject({ type: 'RESTORE_TABLE_FAILED', severity: 'SEV2', backupId: good.id, code: 'States.TaskFailed' });
  }, 120_000);
});
