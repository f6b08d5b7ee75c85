/**
 * `sls invoke -f restoreTable`: the backup chosen from a real catalog (dynalite), the pattern
 * matched against a real backup's manifest (repository folder), and the exact StartExecution
 * sent to Step Functions (mocked).
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SfnExecutionStarter } from '../../shared/adapters/sfn/executions';
import type { BackupEntry } from '../../shared/domain/backup';
import type { StrongboxError } from '../../shared/errors';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { makeRestoreTableHandler } from '../../functions/restore-table';
import { sql } from '../support/restore';
import { startStack, type Stack } from '../support/stack';
import { STATE_DATA_LIMIT } from '../stepfunctions/support';

const sfn = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:strongbox-test-restore-table';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/app-AbCdEf';
const NOW = new Date('2026-11-24T10:00:00.000Z');
let stack: Stack;
let good: BackupEntry;
let handler: ReturnType<typeof makeRestoreTableHandler>;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 100 });
  good = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'daily', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
  handler = makeRestoreTableHandler({ catalog: stack.catalog, walCatalog: stack.walCatalog, storage: stack.storage, clock: () => NOW, log: stack.log, starter: new SfnExecutionStarter(new SFNClient({ region: 'eu-west-1' }), MACHINE) });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:strongbox-test-restore-table:t', startDate: NOW });
});

async function refusal(event: unknown): Promise<StrongboxError> {
  try {
    await handler(event);
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a refusal');
}

const payload = { backupId: 'latest', database: 'app', table: '"Sales".orders', mode: 'replace', target: { secretArn: SECRET }, confirm: 'app' };

describe('restore-table function', () => {
  it('matches the pattern in the manifest and starts the state machine with the exact input', async () => {
    const result = await handler(payload);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]!.args[0].input;
    expect({ ...sent, input: JSON.parse(sent.input!) }).toEqual({
      stateMachineArn: MACHINE,
      name: `restore-table-${good.id}-20261124100000`,
      input: { job: { ...payload, backupId: good.id }, plan: result.plan, resources: result.resources },
    });
    // Sized from the manifest: the task keeps the dump (the scratch database is on the target server).
    expect(result.resources).toEqual({ cpu: '1024', memory: '2048', containerMemory: 2048, ephemeralStorageGiB: 21 });
    expect(result.plan).toMatchObject({ backupId: good.id, mode: 'replace', pattern: '"Sales".orders', tables: [{ schema: 'Sales', name: 'orders', into: { schema: 'Sales', name: 'orders' } }] });
  });

  it('dryRun: side-by-side by default, plan only', async () => {
    const { confirm: _confirm, mode: _mode, ...rest } = payload;
    const result = await handler({ ...rest, table: 'public.customers', dryRun: true });
    expect(result).toMatchObject({ dryRun: true, plan: { mode: 'side-by-side', tables: [{ name: 'customers', into: { name: 'customers_restored_20261124100000' } }] } });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a table not in the backup and a bad mode, starting nothing', async () => {
    expect((await refusal({ ...payload, table: 'public.nope' })).code).toBe('TABLE_NOT_IN_BACKUP');
    const bad = await refusal({ ...payload, mode: 'merge', table: '' });
    expect(bad.code).toBe('INPUT_INVALID');
    expect(bad.message).toContain('mode: Invalid option');
    expect(bad.message).toContain('table: must be a table pattern');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('restore-table function, a pattern selecting 2,000 tables (issue 16)', () => {
  it('sends the pattern and a bounded summary, not the table list: the execution input stays small', async () => {
    // Arrange: 2,000 tables in one schema, in a new backup (the newest: `latest`).
    await sql(stack.conn, `CREATE SCHEMA wide; DO $$ BEGIN FOR i IN 1..2000 LOOP EXECUTE format('CREATE TABLE wide.%I (id int)', 'part_' || lpad(i::text, 4, '0')); END LOOP; END $$;`);
    const wide = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'daily', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
    // Act
    const result = await handler({ ...payload, table: 'wide.*', mode: 'side-by-side' });
    // Assess
    const sent = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!;
    expect(Buffer.byteLength(sent)).toBeLessThan(16 * 1024);
    expect(Buffer.byteLength(sent)).toBeLessThan(STATE_DATA_LIMIT);
    const input = JSON.parse(sent) as { job: Record<string, unknown>; plan: Record<string, unknown> };
    expect(input.job).toEqual({ ...payload, table: 'wide.*', mode: 'side-by-side', backupId: wide.id });
    expect(input.plan).toMatchObject({ backupId: wide.id, tableCount: 2000, tablesNotNamed: 1980, rows: 0 });
    expect((input.plan.tables as unknown[]).length).toBe(20);
    expect(input.plan.steps).toEqual(expect.arrayContaining([expect.stringMatching(/"wide"\."part_0020" \(0 rows\) and 1980 more$/)]));
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThan(16 * 1024);
  }, 180_000);
});
