/**
 * `sls invoke -f restoreTable` as of a moment, end to end and local: the function plans from a
 * real catalog and starts the restore-table state machine of deploy/stepfunctions.yml (run
 * locally), whose RunTask state runs tasks/restore-table.ts for real; the task recovers a
 * scratch cluster from the archive of a real PostgreSQL 15 and restores the table as it was
 * at a time between two marker updates. SNS publishes are recorded; the secret is stubbed.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRestoreTableHandler } from '../../functions/restore-table';
import { pgScratchRecovery } from '../../shared/runtime/scratch-tools';
import { pgRestoreTableDeps } from '../../shared/runtime/table-restore-deps';
import type { PgConnection } from '../../shared/ports/postgres';
import { runRestoreTableTask } from '../../tasks/restore-table';
import { sql } from '../support/restore';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';
import { definitionOf, ecsTask, execute, packagedTemplate, type RunTaskCall } from './support';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/shop-AbCdEf';
let stack: WalStack;
let shop: PgConnection;
let work: string;
let definition: unknown;
let atMoment: string;
let moment: Date;

const fingerprint = async () => String((await sql(shop, "SELECT count(*) || ':' || md5(string_agg(id || '/' || amount, ',' ORDER BY id)) AS f FROM orders"))[0]!.f);

beforeAll(async () => {
  [stack, definition] = await Promise.all([startWalStack(), packagedTemplate().then((cfn) => definitionOf(cfn, 'RestoreTableStateMachine'))]);
  work = await mkdtemp(join(tmpdir(), 'sbx-sfn-asof-'));
  await chmod(work, 0o711);
  await sql(stack.pg.conn, 'CREATE DATABASE shop');
  shop = { ...stack.pg.conn, database: 'shop' };
  await sql(shop, 'CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL); INSERT INTO orders SELECT g, g FROM generate_series(1, 500) g;');
  await stack.baseBackup();
  await sql(shop, 'UPDATE orders SET amount = amount * 2 WHERE id % 2 = 0');
  atMoment = await fingerprint();
  await sleep(300);
  moment = new Date();
  await sleep(300);
  await sql(shop, 'UPDATE orders SET amount = 0; DELETE FROM orders WHERE id > 400');
  await stack.switchAndWait();
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('restore-table as of a moment through Step Functions, run locally', () => {
  it('the function starts the machine, the task restores the table as it was, RESTORE_TABLE_FINISHED is published', async () => {
    // Arrange: the function's StartExecution input, as Step Functions would receive it.
    let input: unknown;
    const handler = makeRestoreTableHandler({ ...stack, clock: () => new Date(), starter: { start: async (_name, given) => ((input = given), { executionArn: 'arn:x', startDate: new Date().toISOString() }) } });
    await handler({ database: WAL_DATABASE, time: moment.toISOString(), table: 'public.orders', mode: 'replace', target: { secretArn: SECRET, database: 'shop' }, confirm: 'shop' });
    const calls: RunTaskCall[] = [];
    const published: Array<{ state: string; params: Record<string, unknown> }> = [];
    const record = (state: string) => async (params: Record<string, unknown>) => (published.push({ state, params }), { MessageId: `${state}-1` });
    const program = (io: Parameters<typeof runRestoreTableTask>[0]) =>
      runRestoreTableTask(io, (_env, log) => ({ ...stack, ...pgRestoreTableDeps, log, clock: () => new Date(), recovery: pgScratchRecovery, tmpDir: work, readSecret: async (_arn, database) => ({ ...stack.pg.conn, database }) }));
    // Act
    const { error } = await execute(definition, input as never, { RunRestoreTable: ecsTask({ 'node dist/task-restore-table.js': program }, {}, calls), PublishSuccess: record('PublishSuccess'), PublishFailure: record('PublishFailure') }, 'restore-table-asof');
    // Assess
    expect(error).toBeUndefined();
    expect(calls.map((call) => call.exitCode)).toEqual([0]);
    expect(calls[0]!.params.Overrides.EphemeralStorage.SizeInGiB).toBeGreaterThanOrEqual(21);
    expect(await fingerprint()).toBe(atMoment);
    expect(published.map((p) => [p.state, p.params.Subject])).toEqual([['PublishSuccess', '[SEV4] Strongbox RESTORE_TABLE_FINISHED (app)']]);
  }, 300_000);
});
