import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectClient } from '../../shared/adapters/postgres/client';
import { openRestoreServer } from '../../shared/adapters/postgres/restore-server';
import { pgTableCopier } from '../../shared/adapters/postgres/table-copy';
import { pgRestoreTableDeps } from '../../shared/runtime/table-restore-deps';
import { pgTableRestoreTools } from '../../shared/adapters/postgres/table-restore-tools';
import type { PgConnection } from '../../shared/ports/postgres';
import type { BackupEntry } from '../../shared/domain/backup';
import { DumpError, InterruptedError, type StrongboxError } from '../../shared/errors';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runRestore } from '../../shared/usecases/restore';
import type { RestoreServer } from '../../shared/ports/restore';
import { resolveRestoreTablePlan, runRestoreTable, type RestoreTableDeps, type RestoreTableRequest } from '../../shared/usecases/restore-table';
import { runRestoreTableRequest } from '../../shared/usecases/restore-table/job';
import { addRichObjects, databaseNames, fingerprint, sql, type Fingerprint } from '../support/restore';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let deps: RestoreTableDeps;
let tmp: string;
let original: Fingerprint;
let backup: BackupEntry;

/** A child whose key cascades: a replace must never fire it. */
const CASCADE_SQL = `
CREATE TABLE public.customer_tags (customer_id bigint NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE, tag text NOT NULL);
INSERT INTO public.customer_tags SELECT id, 'vip' FROM public.customers WHERE id <= 10;`;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 100 });
  await addRichObjects(stack.conn);
  await sql(stack.conn, CASCADE_SQL);
  tmp = await mkdtemp(join(tmpdir(), 'sbx-restore-table-tmp-'));
  deps = { ...stack.deps, ...pgRestoreTableDeps, tmpDir: tmp, lockTimeoutMs: 2_000 };
  original = await fingerprint(stack.conn);
  backup = await takeBackup();
});
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  stack.log.lines.length = 0;
  // Every test starts from the backed-up data.
  await restoreOriginal();
});

function takeBackup(): Promise<BackupEntry> {
  return runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
}

function restoreTable(overrides: Partial<RestoreTableRequest>, extra: Partial<RestoreTableDeps> = {}) {
  return runRestoreTable({ ...deps, ...extra }, { backupId: backup.id, target: stack.conn, table: 'public.customers', mode: 'replace', force: false, ...overrides });
}

async function failure(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected the table restore to fail');
}

/** Puts the backed-up database back (a full restore, tested on its own) when a test changed it. */
async function restoreOriginal(): Promise<void> {
  if (JSON.stringify((await fingerprint(stack.conn)).rows) === JSON.stringify(original.rows)) return;
  const report = await runRestore({ ...stack.deps, ...pgRestoreDeps, tmpDir: tmp }, { backupId: backup.id, target: stack.conn, jobs: 1, dropFirst: false, force: false });
  await sql({ ...stack.conn, database: 'postgres' }, `DROP DATABASE "${report.keptAs}"`);
}

const scratchLeft = async () => (await databaseNames(stack.conn)).filter((name) => name.startsWith('strongbox_scratch_'));
const tmpLeft = () => readdir(tmp);

describe('restore-table --mode replace', () => {
  it('brings back a truncated table, moves its sequence forward and reports the rows before and after', async () => {
    await sql(stack.conn, 'TRUNCATE "Sales".orders RESTART IDENTITY');
    const progress: string[] = [];

    const report = await restoreTable({ table: '"Sales".orders', onProgress: ({ phase }) => progress.push(phase) });

    expect(report).toMatchObject({ backupId: backup.id, database: 'app', mode: 'replace', pattern: '"Sales".orders', droppedLeftovers: [], warnings: [] });
    expect(report.target).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/app$/);
    expect(report.tables).toEqual([{ table: '"Sales"."orders"', into: '"Sales"."orders"', rowsBefore: 0, rowsAfter: 200, rowsRestored: 200, sequences: [{ sequence: '"Sales".orders_id_seq', from: 'unused', to: '200' }] }]);
    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'download', 'check', 'scratch', 'verify', 'copy']);
    expect(new Set(progress)).toEqual(new Set(['plan', 'cleanup', 'download', 'check', 'scratch', 'verify', 'copy']));
    expect((await fingerprint(stack.conn)).rows['Sales.orders']).toBe(original.rows['Sales.orders']);
    const [next] = await sql(stack.conn, "INSERT INTO \"Sales\".orders (customer_id, amount, ordered_at) VALUES (1, 1, '2024-01-02') RETURNING id");
    expect(next?.id).toBe('201');
    expect(await scratchLeft()).toEqual([]);
    expect(await tmpLeft()).toEqual([]);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'table restored', attributes: expect.objectContaining({ table: '"Sales"."orders"', rowsBefore: 0, rowsAfter: 200 }) }));
    expect(JSON.stringify(stack.log.lines)).not.toContain('test-Secret-42');
  });

  it('a mixed-case quoted table in a non-public schema, referenced by another table: rows fixed in place, references kept, extra rows removed', async () => {
    await sql(stack.conn, `UPDATE inventory."Items" SET "Name" = "Name" || ' (edited)', "weight kg" = NULL WHERE "Id" % 2 = 0;
      INSERT INTO inventory."Items" ("Name") VALUES ('not in the backup 1'), ('not in the backup 2')`);
    const invoices = (await fingerprint(stack.conn)).rows['Billing.Invoices'];

    const report = await restoreTable({ table: 'inventory."Items"' });

    expect(report.tables).toMatchObject([{ table: '"inventory"."Items"', rowsBefore: 122, rowsAfter: 120, rowsRestored: 120, sequences: [] }]);
    const after = await fingerprint(stack.conn);
    expect(after.rows['inventory.Items']).toBe(original.rows['inventory.Items']);
    expect(after.rows['Billing.Invoices']).toBe(invoices);
    // The sequence had moved past the backup's values: it never goes back.
    expect(Number(after.sequences['inventory.Item_Seq'])).toBeGreaterThan(500 + 7 * 119);
  });

  it('never fires an ON DELETE CASCADE key: the referencing rows stay', async () => {
    await sql(stack.conn, "UPDATE public.customers SET notes = 'overwritten by a bad script'");

    const report = await restoreTable({ table: 'customers' });

    expect(report.tables[0]).toMatchObject({ table: '"public"."customers"', rowsBefore: 100, rowsAfter: 100 });
    const after = await fingerprint(stack.conn);
    expect(after.rows['public.customers']).toBe(original.rows['public.customers']);
    expect(after.rows['public.customer_tags']).toBe(original.rows['public.customer_tags']);
    expect(after.rows['Sales.orders']).toBe(original.rows['Sales.orders']);
  });

  it('parent and child together (one pattern over two schemas): deleted rows of both come back', async () => {
    await sql(stack.conn, `DELETE FROM "Billing"."Invoices" WHERE item_id IN (500, 507); DELETE FROM inventory."Items" WHERE "Id" IN (500, 507)`);

    const report = await restoreTable({ table: '*."I"*' });

    expect(report.tables.map((t) => [t.table, t.rowsBefore, t.rowsAfter])).toEqual([
      ['"Billing"."Invoices"', 300 - 5, 300],
      ['"inventory"."Items"', 118, 120],
    ]);
    const after = await fingerprint(stack.conn);
    expect(after.rows['Billing.Invoices']).toBe(original.rows['Billing.Invoices']);
    expect(after.rows['inventory.Items']).toBe(original.rows['inventory.Items']);
  });

  it('a partitioned table through its partitions: every partition replaced, the parent untouched', async () => {
    await sql(stack.conn, "DELETE FROM public.events_2024_02; UPDATE public.events_2024_01 SET payload = 'lost'");

    const report = await restoreTable({ table: 'public.events_*' });

    expect(report.tables.map((t) => t.table)).toEqual(['"public"."events_2024_01"', '"public"."events_2024_02"']);
    expect(report.tables[1]).toMatchObject({ rowsBefore: 0 });
    const after = await fingerprint(stack.conn);
    expect(after.rows['public.events_2024_01']).toBe(original.rows['public.events_2024_01']);
    expect(after.rows['public.events_2024_02']).toBe(original.rows['public.events_2024_02']);
  });

  it('refused, all or nothing, when rows of another table reference rows the backup does not hold', async () => {
    await sql(stack.conn, `UPDATE inventory."Items" SET "Name" = 'renamed' WHERE "Id" = 500;
      INSERT INTO inventory."Items" ("Id", "Name") VALUES (99999, 'new since the backup');
      INSERT INTO "Billing"."Invoices" (item_id, state, amount, issued) VALUES (99999, 'draft', 1, '2026-01-01')`);
    const before = await fingerprint(stack.conn);

    const error = await failure(restoreTable({ table: 'inventory."Items"' }));

    expect(error.code).toBe('RESTORE_TABLE_REFUSED');
    expect(error.message).toBe('1 rows of "Billing"."Invoices" reference rows of "inventory"."Items" that the backup does not hold (foreign key Invoices_item_id_fkey, item_id = 99999)');
    expect(error.hint).toMatch(/rolled back.*The tables of "app" were left as they were \(the scratch database "strongbox_scratch_\d{14}_[0-9a-f]{8}" is dropped\)/s);
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await scratchLeft()).toEqual([]);
  });

  it('a busy table: refused after the lock timeout, nothing changed', async () => {
    const holder = await connectClient(stack.conn);
    try {
      await holder.query('BEGIN');
      await holder.query("UPDATE public.customers SET notes = 'held' WHERE id = 1");
      const error = await failure(restoreTable({ table: 'public.customers' }));
      expect(error).toMatchObject({ code: 'RESTORE_TABLE_REFUSED', message: expect.stringContaining('the table is busy') });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect((await fingerprint(stack.conn)).rows).toEqual(original.rows);
  });
});

describe('restore-table --mode append and side-by-side', () => {
  it('append brings back the deleted rows of a partition', async () => {
    await sql(stack.conn, 'DELETE FROM public.events_2024_01');

    const report = await restoreTable({ table: 'public.events_2024_01', mode: 'append' });

    const [{ rows }] = (await sql(stack.conn, 'SELECT count(*)::int AS rows FROM public.events_2024_01')) as [{ rows: number }];
    expect(report.tables).toMatchObject([{ table: '"public"."events_2024_01"', rowsBefore: 0, rowsAfter: rows, rowsRestored: rows }]);
    expect(rows).toBeGreaterThan(0);
    expect((await fingerprint(stack.conn)).rows['public.events_2024_01']).toBe(original.rows['public.events_2024_01']);
  });

  it('append over rows that are still there: a duplicate key refuses it, nothing added', async () => {
    await sql(stack.conn, 'DELETE FROM "Sales".orders WHERE id % 2 = 0');
    const before = await fingerprint(stack.conn);

    const error = await failure(restoreTable({ table: '"Sales".orders', mode: 'append' }));

    expect(error).toMatchObject({ code: 'RESTORE_TABLE_REFUSED', message: expect.stringContaining('a restored row conflicts with a row of the table') });
    expect(await fingerprint(stack.conn)).toEqual(before);
  });

  it('side-by-side creates <table>_restored_<ts> beside the original, which is not touched', async () => {
    await sql(stack.conn, `UPDATE inventory."Items" SET "Name" = "Name" || ' changed'`);
    const before = await fingerprint(stack.conn);

    const report = await restoreTable({ table: 'inventory."Items"', mode: 'side-by-side' });

    const into = report.tables[0]?.into ?? '';
    expect(into).toMatch(/^"inventory"\."Items_restored_\d{14}"$/);
    expect(report.tables[0]).toMatchObject({ rowsBefore: null, rowsAfter: 120, rowsRestored: 120 });
    const after = await fingerprint(stack.conn);
    const name = `inventory.${JSON.parse(into.split('.')[1] as string)}`;
    expect(after.rows[name]).toBe(original.rows['inventory.Items']);
    const { [name]: _created, ...rest } = after.rows;
    expect(rest).toEqual(before.rows);
    // The new table has the backup's column types, the enum and array types included.
    const columns = await sql(stack.conn, "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 ORDER BY attnum", [`inventory."${name.slice('inventory.'.length)}"`]);
    expect(columns.map((c) => `${c.attname} ${c.type}`)).toEqual(['Id bigint', 'Name text', 'weight kg numeric(8,3)', 'tags text[]']);
  });

  it('runs from a plain request object (what the state machine\'s task calls), side-by-side by default', async () => {
    const report = await runRestoreTableRequest(deps, { backupId: 'latest', database: 'app', table: '"Billing"."Invoices"', target: stack.conn });

    expect(report).toMatchObject({ mode: 'side-by-side', tables: [{ table: '"Billing"."Invoices"', rowsAfter: 300 }] });
    await expect(runRestoreTableRequest(deps, { backupId: 'latest', table: '', mode: 'merge' as never, target: stack.conn })).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      message: expect.stringMatching(/table: a table pattern.*mode: one of replace, append, side-by-side/),
    });
  });
});

describe('restore-table refuses before touching the target', () => {
  it('a table not in the backup: TABLE_NOT_IN_BACKUP with near matches, nothing created', async () => {
    const names = await databaseNames(stack.conn);

    const typo = await failure(restoreTable({ table: 'public.custmers' }));
    const partitioned = await failure(restoreTable({ table: 'public.events' }));

    expect(typo).toMatchObject({ code: 'TABLE_NOT_IN_BACKUP', message: `no table of backup ${backup.id} matches "public.custmers"; near matches: public.customers` });
    expect(partitioned.code).toBe('TABLE_NOT_IN_BACKUP');
    expect(partitioned.message).toContain('near matches: public.events_2024_01, public.events_2024_02');
    expect(partitioned.hint).toContain('a partitioned table is restored through its partitions');
    expect(await databaseNames(stack.conn)).toEqual(names);
    expect(await tmpLeft()).toEqual([]);
  });

  it('a flipped byte in the dump: CHECKSUM_MISMATCH before the target is touched, backup marked FAILED with an alert', async () => {
    const damaged = await takeBackup();
    const raw = stack.rawStorage();
    const bytes = await raw.getBytes(damaged.key);
    bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0x01, bytes.length >> 1);
    await raw.putBytes(damaged.key, bytes);
    await sql(stack.conn, 'DELETE FROM "Sales".orders WHERE id < 50');
    const before = await fingerprint(stack.conn);
    const alerts = stack.alerts.published.length;

    const error = await failure(restoreTable({ backupId: damaged.id, table: '"Sales".orders' }));

    expect(error).toMatchObject({ code: 'CHECKSUM_MISMATCH', hint: expect.stringContaining('The tables of "app" were left as they were') });
    expect(error.hint).not.toContain('scratch');
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await scratchLeft()).toEqual([]);
    expect(await tmpLeft()).toEqual([]);
    expect(await stack.catalog.get(damaged.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
    expect(stack.alerts.published.slice(alerts)).toEqual([expect.objectContaining({ type: 'CHECKSUM_MISMATCH', backupId: damaged.id })]);
  });

  it('a target table that no longer exists: refused before any scratch database, with the recreate hint', async () => {
    await sql(stack.conn, 'ALTER TABLE public.customer_tags RENAME TO customer_tags_old');
    try {
      const names = await databaseNames(stack.conn);
      const error = await failure(restoreTable({ table: 'public.customer_tags' }));
      expect(error).toMatchObject({ code: 'RESTORE_TABLE_REFUSED', message: '"public"."customer_tags" does not exist in "app"', hint: expect.stringContaining('--mode recreate brings it back') });
      expect(await databaseNames(stack.conn)).toEqual(names);
    } finally {
      await sql(stack.conn, 'ALTER TABLE public.customer_tags_old RENAME TO customer_tags');
    }
  });

  it('an unreachable target: DB_UNREACHABLE, no temporary file', async () => {
    const error = await failure(restoreTable({ target: { ...stack.conn, port: 1 }, database: 'app' }));
    expect(error.code).toBe('DB_UNREACHABLE');
    expect(error.message).not.toContain('test-Secret-42');
    expect(await tmpLeft()).toEqual([]);
  });

  it('the dry-run plan names the tables, their rows and the scratch database, and connects to nothing', async () => {
    const plan = await resolveRestoreTablePlan({ ...deps, nonce: () => 'abc123' }, { backupId: 'latest', target: { ...stack.conn, port: 1 }, table: '"Billing".ledger_*', mode: 'replace', force: false });

    expect(plan.tables.map((t) => `${t.schema}.${t.name}:${t.rows}`)).toEqual(['Billing.ledger_2025:60', 'Billing.ledger_2026:90']);
    expect(plan.scratch).toMatch(/^strongbox_scratch_\d{14}_abc123$/);
    expect(plan.steps.join('\n')).toContain('in ONE transaction in database "app"');
  });
});

describe('the scratch database', () => {
  const failingCopy = { ...pgTableCopier, async copy(): Promise<never> {
    throw new DumpError('the connection to the target broke', 'run it again');
  } };

  it('is dropped when the move fails, and the target is as it was', async () => {
    await sql(stack.conn, 'DELETE FROM public.customer_tags');
    const before = await fingerprint(stack.conn);

    const error = await failure(restoreTable({ table: 'public.customer_tags' }, { copier: failingCopy }));

    expect(error).toMatchObject({ code: 'DUMP_FAILED', hint: expect.stringMatching(/is dropped\)$/) });
    expect(await scratchLeft()).toEqual([]);
    expect(await tmpLeft()).toEqual([]);
    expect(await fingerprint(stack.conn)).toEqual(before);
  });

  it('an interrupt (Ctrl-C, SIGTERM) during the move rolls it back and drops the scratch database', async () => {
    await sql(stack.conn, 'DELETE FROM "Sales".orders WHERE id > 150');
    const before = await fingerprint(stack.conn);
    const abort = new AbortController();

    const error = await failure(restoreTable({ table: '"Sales".orders', signal: abort.signal, onProgress: ({ phase }) => phase === 'copy' && abort.abort(new InterruptedError('SIGTERM')) }));

    expect(error).toMatchObject({ code: 'INTERRUPTED', message: 'stopped by SIGTERM' });
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await scratchLeft()).toEqual([]);
    expect(await tmpLeft()).toEqual([]);
  });

  it('a killed run leaves its scratch database; the next run drops it, but never one a live run holds', async () => {
    // A killed process never drops its scratch database: model that by a cleanup that cannot run.
    const dying = async (target: PgConnection): Promise<RestoreServer> => {
      const server = await openRestoreServer(target);
      const dropDatabase = async (name: string): Promise<void> => {
        if (name.startsWith('strongbox_scratch_')) throw new Error('process killed');
        await server.dropDatabase(name);
      };
      return Object.assign(Object.create(server) as RestoreServer, { dropDatabase });
    };
    const failingRestore = { ...pgTableRestoreTools, async restoreListed(...args: Parameters<typeof pgTableRestoreTools.restoreListed>) {
      await pgTableRestoreTools.restoreListed(...args);
      throw new DumpError('pg_restore was killed by SIGKILL', 'run it again');
    } };
    await failure(restoreTable({ table: 'public.customer_tags' }, { openServer: dying, tableTools: failingRestore }));
    const [leftover, ...others] = await scratchLeft();
    expect(leftover).toMatch(/^strongbox_scratch_\d{14}_[0-9a-f]{8}$/);
    expect(others).toEqual([]);
    // Another run, alive, holds its own scratch database (same prefix, older).
    const alive = 'strongbox_scratch_20200101000000_alive';
    const live = await openRestoreServer(stack.conn);
    try {
      expect(await live.lock(alive)).toBe(true);
      await live.createDatabase(alive);
      await new Promise((resolve) => setTimeout(resolve, 1_100));

      const report = await restoreTable({ table: 'public.customer_tags' });

      expect(report.droppedLeftovers).toEqual([leftover]);
      expect(await scratchLeft()).toEqual([alive]);
      expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'leftover scratch database of a killed table restore dropped', attributes: expect.objectContaining({ database: leftover }) }));
      expect(stack.log.lines).toContainEqual(expect.objectContaining({ message: 'scratch database of a running table restore left alone', attributes: expect.objectContaining({ database: alive }) }));
    } finally {
      await live.dropDatabase(alive);
      await live.close();
    }
    expect(await scratchLeft()).toEqual([]);
  });
});
