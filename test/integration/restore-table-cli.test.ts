import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import { backupCommand } from '../../shared/cli/commands/backup';
import { registerRestoreTable, restoreTableCommand, type RestoreTableFlags } from '../../shared/cli/commands/restore-table';
import { printFailure, type Output } from '../../shared/cli/output';
import { startTestCluster, type TestCluster } from '../support/pg';
import { databaseNames, fingerprint, sql, type Fingerprint } from '../support/restore';

const PASSWORD = 'table-Secret-9';
let pg: TestCluster;
let dir: string;
let url: string;
let backupId: string;
let original: Fingerprint;
const savedEnv = { ...process.env };

function capture(): Output & { out: string; err: string } {
  const output = { json: true, interactive: false, out: '', err: '', stdout: (t: string) => void (output.out += t), stderr: (t: string) => void (output.err += t) };
  return output;
}

/** The program with only `restore-table` registered, run as main.ts runs commands (no terminal). */
async function runProgram(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const output = capture();
  let code = -1;
  const program = new Command('strongbox').exitOverride().configureOutput({ writeErr: (t) => void (output.err += t), writeOut: (t) => void (output.out += t) });
  registerRestoreTable(program, async (action, json) => {
    output.json = json;
    try {
      code = await action(output);
    } catch (error) {
      code = printFailure(output, error);
    }
  });
  try {
    await program.parseAsync(['node', 'strongbox', 'restore-table', ...args]);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    code = 2;
  }
  return { code, out: output.out, err: output.err };
}

const shop = () => pg.cluster.connection('shop');
const flags = (extra: Partial<RestoreTableFlags> = {}): RestoreTableFlags => ({ table: '"Sales".orders', targetUrl: url, mode: 'replace', ...extra });

beforeAll(async () => {
  pg = await startTestCluster({ password: PASSWORD });
  await pg.cluster.createDatabase('shop');
  await seedSampleData(shop(), { rows: 50 });
  dir = await mkdtemp(join(tmpdir(), 'sbx-restore-table-cli-'));
  await mkdir(join(dir, 'tmp'));
  url = `postgresql://postgres@127.0.0.1:${pg.cluster.connection().port}/shop`;
  Object.assign(process.env, { STRONGBOX_HOME: join(dir, 'state'), PGPASSWORD: PASSWORD, TMPDIR: join(dir, 'tmp') });
  const backup = capture();
  expect(await backupCommand({ databaseUrl: url, tier: 'manual', table: [] }, backup)).toBe(0);
  backupId = JSON.parse(backup.out).id;
  original = await fingerprint(shop());
});
afterAll(async () => {
  process.env = savedEnv;
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('strongbox restore-table', () => {
  it('--dry-run prints the plan (tables, rows, scratch database) and changes nothing', async () => {
    const names = await databaseNames(shop());

    const json = await runProgram(['latest', '--table', '"Sales".orders', '--target-url', url, '--mode', 'replace', '--dry-run', '--json']);
    const human = await runProgram(['latest', '--table', 'customers', '--target-url', url, '--dry-run']);

    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ dryRun: true, backupId, database: 'shop', mode: 'replace', tables: [{ table: '"Sales"."orders"', rows: 100, into: '"Sales"."orders"' }], scratch: expect.stringMatching(/^strongbox_scratch_\d{14}_[0-9a-f]{8}$/) });
    expect(human.code, human.err).toBe(0);
    expect(human.out).toMatch(/^Table restore plan \(--mode side-by-side\): "public"\."customers" → "public"\."customers_restored_\d{14}" from backup/);
    expect(human.out).toContain('(dry run: nothing was changed)');
    expect(await databaseNames(shop())).toEqual(names);
    expect(await fingerprint(shop())).toEqual(original);
  });

  it('refuses without --yes and without a terminal (exit 2), a bad mode (exit 2), a missing --table (exit 2) and a password in the URL (exit 1)', async () => {
    const noYes = await runProgram(['latest', '--table', 'customers', '--target-url', url, '--mode', 'replace']);
    const badMode = await runProgram(['latest', '--table', 'customers', '--target-url', url, '--mode', 'merge', '--yes']);
    const noTable = await runProgram(['latest', '--target-url', url, '--yes']);
    const withPassword = await runProgram(['latest', '--table', 'customers', '--yes', '--json', '--target-url', url.replace('postgres@', 'postgres:hunter2@')]);

    expect(noYes).toMatchObject({ code: 2, err: expect.stringMatching(/no terminal to confirm on\nHINT: pass --yes/) });
    expect(badMode).toMatchObject({ code: 2, err: expect.stringContaining('--mode merge is not one of replace, append, side-by-side') });
    expect(noTable).toMatchObject({ code: 2, err: expect.stringContaining("required option '--table <pattern>' not specified") });
    expect(withPassword.code).toBe(1);
    expect(JSON.parse(withPassword.out).error).toMatchObject({ code: 'INPUT_INVALID', message: expect.stringContaining('--target-url must not contain a password') });
    expect(withPassword.out + withPassword.err).not.toContain('hunter2');
    expect(await fingerprint(shop())).toEqual(original);
  });

  it('--yes --json replaces the rows of a table emptied by mistake and reports them; the password never shows', async () => {
    await sql(shop(), 'DELETE FROM "Sales".orders');

    const result = await runProgram([backupId, '--table', '"Sales".orders', '--target-url', url, '--mode', 'replace', '--yes', '--json']);

    expect(result.code, result.err).toBe(0);
    const report = JSON.parse(result.out);
    expect(report).toMatchObject({ backupId, mode: 'replace', target: url, tables: [{ table: '"Sales"."orders"', rowsBefore: 0, rowsAfter: 100, rowsRestored: 100 }], droppedLeftovers: [] });
    expect(report.seconds).toBeGreaterThan(0);
    expect(await fingerprint(shop())).toEqual(original);
    expect(result.out + result.err).not.toContain(PASSWORD);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect((await databaseNames(shop())).filter((n) => n.startsWith('strongbox_scratch_'))).toEqual([]);
  });

  it('--mode recreate after DROP TABLE … CASCADE: the dry run lists the objects from the dump, the restore brings the table and its view back and says so', async () => {
    await sql(shop(), 'DROP TABLE "Sales".orders CASCADE');
    const names = await databaseNames(shop());

    const dry = await runProgram(['latest', '--table', '"Sales".orders', '--target-url', url, '--mode', 'recreate', '--dry-run']);

    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain('Objects to recreate, in order (* = tried: skipped with the reason if the database no longer fits it):\n    TABLE Sales orders\n');
    expect(dry.out).toContain('\n  * VIEW Sales customer_totals\n');
    expect(dry.out).toContain('\n  * FK CONSTRAINT Sales orders orders_customer_id_fkey\n');
    expect(dry.out).toContain('WARNING: the backups hold no owners or grants');
    expect(dry.out).toContain('(dry run: the dump was downloaded to read its contents; nothing was changed)');
    expect(await databaseNames(shop())).toEqual(names);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);

    const result = await runProgram(['latest', '--table', '"Sales".orders', '--target-url', url, '--mode', 'recreate', '--yes']);

    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^Restored table from backup .* \(--mode recreate\) in \d+\.\d s\n {2}"Sales"\."orders" → "Sales"\."orders": created, 100 after \(100 from the backup\)/);
    expect(result.out).toMatch(/\n {2}recreated \d+ objects: TABLE Sales orders; .*VIEW Sales customer_totals;/);
    expect(result.out).not.toContain('NOT recreated');
    expect(await fingerprint(shop())).toEqual(original);
  });

  it('on a terminal: a wrong name cancels, the right one restores side-by-side', async () => {
    const questions: string[] = [];
    const wrong = capture();
    await expect(restoreTableCommand('latest', flags({ mode: 'side-by-side', table: 'customers' }), wrong, async (q) => (questions.push(q), 'shop2'))).rejects.toMatchObject({ code: 'INPUT_INVALID', message: expect.stringContaining('table restore cancelled') });
    expect(wrong.err).toContain('Table restore plan (--mode side-by-side)');
    expect(questions).toEqual(['Type the target database\'s name ("shop") to go ahead: ']);

    const right = capture();
    right.json = false;
    expect(await restoreTableCommand('latest', flags({ mode: 'side-by-side', table: 'customers' }), right, async () => 'shop\n')).toBe(0);
    expect(right.out).toMatch(/^Restored table from backup .* \(--mode side-by-side\) in \d+\.\d s\n {2}"public"\."customers" → "public"\."customers_restored_\d{14}": created, 50 after \(50 from the backup\)/);
    expect(right.out).toContain('They hold columns and rows only: no primary key, NOT NULL, defaults, identity, unique constraints, indexes, triggers, views or foreign keys (--mode recreate brings a dropped table back with them)');
    const after = await fingerprint(shop());
    const created = Object.keys(after.rows).find((name) => name.startsWith('public.customers_restored_'));
    expect(created && after.rows[created]).toBe(original.rows['public.customers']);
  });
});
