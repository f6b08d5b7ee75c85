/**
 * One table as it was at a moment (issue 18 point 2), on real PostgreSQL 15: a cluster
 * archives through the real endpoint (wal-push, dist/wal.js, the repository folder, both
 * catalogs); a base backup; the table `orders` changes between marker updates; then
 * runTableAsOf recovers a scratch cluster to a time / a restore point, dumps the table from it
 * and brings it into the live database through the table restore path. The restored table
 * must be exactly what the primary held at that moment.
 */
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgScratchRecovery } from '../../shared/runtime/scratch-tools';
import { pgRestoreTableDeps } from '../../shared/runtime/table-restore-deps';
import { pgWalServer } from '../../shared/adapters/postgres/wal-server';
import type { PgConnection } from '../../shared/ports/postgres';
import type { PitrTarget } from '../../shared/domain/wal/pitr-target';
import { createNamedRestorePoint } from '../../shared/usecases/restore-point';
import { previewTableAsOf, runTableAsOf, type AsOfRequest } from '../../shared/usecases/restore-table/as-of';
import { makeRestoreTableHandler } from '../../functions/restore-table';
import { runRestoreTableTask } from '../../tasks/restore-table';
import { restoreTableCommand } from '../../shared/cli/commands/restore-table';
import { sql } from '../support/restore';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

let stack: WalStack;
let shop: PgConnection;
let work: string;

const FINGERPRINT = `SELECT count(*) || ':' || coalesce(md5(string_agg(id || '/' || amount || '/' || note, ',' ORDER BY id)), '-') AS f FROM orders`;
const fingerprint = async (conn: PgConnection, table = 'orders') => String((await sql(conn, FINGERPRINT.replace('FROM orders', `FROM ${table}`)))[0]!.f);

// What the primary held at each moment of the story.
let atFirst: string;
let firstTime: Date;
let atPoint: string;

function deps() {
  return { ...stack, ...pgRestoreTableDeps, clock: () => new Date(), recovery: pgScratchRecovery, tmpDir: work, nonce: () => 'asoftest' };
}

function request(at: PitrTarget, extra: Partial<AsOfRequest> = {}): AsOfRequest {
  return { database: WAL_DATABASE, at, target: shop, table: 'public.orders', mode: 'replace', restoreCommand: stack.host.restoreCommand, timeoutMs: 120_000, ...extra };
}

beforeAll(async () => {
  stack = await startWalStack();
  work = await mkdtemp(join(tmpdir(), 'sbx-asof-test-'));
  // The server's OS user recovers the scratch cluster in here.
  await chmod(work, 0o711);
  await sql(stack.pg.conn, 'CREATE DATABASE shop');
  shop = { ...stack.pg.conn, database: 'shop' };
  await sql(shop, `CREATE TABLE orders (id int PRIMARY KEY, amount numeric NOT NULL, note text NOT NULL);
    CREATE TABLE markers (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE other (id int); INSERT INTO other SELECT g FROM generate_series(1, 1000) g;
    INSERT INTO orders SELECT g, g * 10, md5(g::text) FROM generate_series(1, 2000) g;`);
  expect(await stack.baseBackup()).toMatchObject({ kind: 'base', state: 'VERIFIED' });

  // After the base backup: orders change, marker 1, the moment, marker 2, a "bad" update.
  await sql(shop, `UPDATE orders SET amount = amount + 1 WHERE id % 3 = 0; DELETE FROM orders WHERE id > 1900; INSERT INTO orders VALUES (5000, 1, 'late');`);
  await sql(shop, 'INSERT INTO markers (id) VALUES (1)');
  atFirst = await fingerprint(shop);
  await sleep(300);
  firstTime = new Date();
  await sleep(300);
  await sql(shop, 'INSERT INTO markers (id) VALUES (2)');
  await sql(shop, `UPDATE orders SET note = 'second' WHERE id < 100; INSERT INTO orders VALUES (6000, 2, 'second')`);
  atPoint = await fingerprint(shop);
  await createNamedRestorePoint({ walCatalog: stack.walCatalog, server: pgWalServer, clock: () => new Date(), log: stack.log }, { database: WAL_DATABASE, connection: stack.pg.conn, name: 'before-the-bad-update' });
  // The mistake the restore undoes.
  await sql(shop, `UPDATE orders SET amount = 0; CREATE TABLE born_later (id int);`);
  await stack.switchAndWait();
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('restore-table as of a moment', () => {
  it('the dry run names the base backup, the WAL range and the space, from the catalog alone', async () => {
    const preview = await previewTableAsOf(deps(), request({ type: 'time', at: firstTime, assumedUtc: false }));
    expect(preview.source).toMatchObject({ baseBackup: expect.stringMatching(/-b-/), sourceDatabase: 'shop', wal: { count: expect.any(Number) } });
    expect(preview.source.wal.first <= preview.source.wal.last).toBe(true);
    expect(preview.space.bytes).toBeGreaterThan(16 * 1024 * 1024);
    expect(preview.steps[1]).toContain(`from base backup ${preview.source.baseBackup}, replaying WAL ${preview.source.wal.first} .. ${preview.source.wal.last}`);
    expect(preview.steps.join('\n')).toContain('the tables public.orders selects');
    expect(await readdir(work)).toEqual([]);
  });

  it('replace: the table is exactly as it was at a time between two marker updates; nothing of the scratch cluster is left', async () => {
    // Act
    const report = await runTableAsOf(deps(), request({ type: 'time', at: firstTime, assumedUtc: false }));
    // Assess
    expect(await fingerprint(shop)).toBe(atFirst);
    expect(report).toMatchObject({ mode: 'replace', asOf: { sourceDatabase: 'shop', baseBackup: report.backupId }, tables: [{ table: '"public"."orders"', rowsAfter: 1901 }] });
    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'recover', 'cleanup', 'dump', 'check', 'scratch', 'verify', 'copy']);
    expect(String((await sql(shop, 'SELECT count(*) AS n FROM other'))[0]!.n)).toBe('1000');
    expect(await readdir(work)).toEqual([]);
    const scratches = await sql(stack.pg.conn, "SELECT datname FROM pg_database WHERE datname LIKE 'strongbox_scratch_%'");
    expect(scratches).toEqual([]);
  }, 240_000);

  it('side-by-side at a restore point: a copy to compare, the live table untouched', async () => {
    await sql(shop, 'UPDATE orders SET amount = -1 WHERE id = 1');
    const before = await fingerprint(shop);
    // Act
    const report = await runTableAsOf(deps(), request({ type: 'name', name: 'before-the-bad-update' }, { mode: 'side-by-side' }));
    // Assess
    const into = report.tables[0]!.into;
    expect(into).toMatch(/^"public"\."orders_restored_\d{14}"$/);
    expect(await fingerprint(shop, into)).toBe(atPoint);
    expect(await fingerprint(shop)).toBe(before);
  }, 240_000);

  it('recreate: a table dropped since comes back as it was at a restore point, with its primary key (the way for a parallel backup\'s database too)', async () => {
    // Prepare: the mistake of SEV3 — the table is dropped
    await sql(shop, 'DROP TABLE orders');
    // Act
    const report = await runTableAsOf(deps(), request({ type: 'name', name: 'before-the-bad-update' }, { mode: 'recreate' }));
    // Assess
    expect(report).toMatchObject({ mode: 'recreate', tables: [{ table: '"public"."orders"' }] });
    expect(await fingerprint(shop)).toBe(atPoint);
    const keys = await sql(shop, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'orders'");
    expect(keys.map((row) => row.indexname)).toEqual(['orders_pkey']);
    expect(await readdir(work)).toEqual([]);
  }, 240_000);

  it('a table created after the moment is not there: TABLE_NOT_IN_BACKUP, worded for the moment, target untouched', async () => {
    await expect(runTableAsOf(deps(), request({ type: 'time', at: firstTime, assumedUtc: false }, { table: 'public.born_later' }))).rejects.toMatchObject({
      code: 'TABLE_NOT_IN_BACKUP',
      message: expect.stringContaining('no table of database "shop" as of time'),
    });
    expect(await readdir(work)).toEqual([]);
  }, 240_000);
});

describe('restore-table as of a moment, through sls invoke and the task', () => {
  const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/shop-AbCdEf';
  const payload = () => ({ database: WAL_DATABASE, time: firstTime.toISOString(), table: 'public.orders', mode: 'replace', target: { secretArn: SECRET, database: 'shop' }, confirm: 'shop' });

  it('the function plans from the catalog and starts the machine with the moment and the chosen base backup', async () => {
    const started: Array<{ name: string; input: unknown }> = [];
    const handler = makeRestoreTableHandler({ ...stack, clock: () => new Date(), starter: { start: async (name, input) => (started.push({ name, input }), { executionArn: 'arn:x', startDate: new Date().toISOString() }) } });
    const dry = await handler({ ...payload(), dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, plan: { source: { baseBackup: expect.stringMatching(/-b-/), sourceDatabase: 'shop' }, space: { bytes: expect.any(Number) } } });
    expect(started).toEqual([]);
    await handler(payload());
    const input = started[0]!.input as { job: Record<string, unknown>; resources: { ephemeralStorageGiB: number } };
    expect(input.resources.ephemeralStorageGiB).toBeGreaterThanOrEqual(21);
    expect(input.job).toEqual({ ...payload(), backupId: (dry.plan as { source: { baseBackup: string } }).source.baseBackup });
    expect(Buffer.byteLength(JSON.stringify(input))).toBeLessThan(16 * 1024);
  });

  it('the task serves its scratch cluster the archive itself and restores the table as of the moment', async () => {
    await sql(shop, 'UPDATE orders SET amount = 0');
    const job = { ...payload(), backupId: undefined };
    const code = await runRestoreTableTask({ env: { STRONGBOX_JOB: JSON.stringify(job) }, onStop: () => undefined }, (_env, log) => ({
      ...deps(),
      log,
      readSecret: async (_arn, database) => ({ ...stack.pg.conn, database }),
    }));
    expect(code).toBe(0);
    expect(await fingerprint(shop)).toBe(atFirst);
    expect(await readdir(work)).toEqual([]);
  }, 240_000);

  it('the CLI refuses a backup id and a moment together, and neither (usage errors, exit 2)', async () => {
    const flags = { table: 'public.orders', targetUrl: 'postgresql://postgres@127.0.0.1:5432/shop', mode: 'replace', yes: true };
    await expect(restoreTableCommand('latest', { ...flags, time: '2026-11-24T03:00:00Z' }, { json: true, interactive: false, stdout: () => undefined, stderr: () => undefined }, undefined)).rejects.toMatchObject({ message: expect.stringContaining('not both') });
    await expect(restoreTableCommand(undefined, flags, { json: true, interactive: false, stdout: () => undefined, stderr: () => undefined }, undefined)).rejects.toMatchObject({ message: expect.stringContaining('give a backup id (or latest), or a moment') });
  });
});
