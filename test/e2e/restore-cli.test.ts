import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import { restoreCommand } from '../../shared/cli/commands/restore';
import type { Output } from '../../shared/cli/output';
import { startTestCluster, type TestCluster } from '../support/pg';
import { databaseNames, fingerprint, sql, type Fingerprint } from '../support/restore';

// STRONGBOX_TEST_CLI runs the same tests against another build of the CLI.
const CLI = resolve(process.env.STRONGBOX_TEST_CLI ?? 'dist/cli.js');
const PASSWORD = 'restore-Secret-7';
let pg: TestCluster;
let dir: string;
let env: NodeJS.ProcessEnv;
let url: string;
let backupId: string;
let original: Fingerprint;

function spawnCli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the built CLI as a user would, with no terminal. */
function runCli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawnCli(args, extraEnv);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const shop = () => pg.cluster.connection('shop');

beforeAll(async () => {
  pg = await startTestCluster({ password: PASSWORD });
  await pg.cluster.createDatabase('shop');
  await seedSampleData(shop(), { rows: 300 });
  dir = await mkdtemp(join(tmpdir(), 'sbx-restore-cli-'));
  url = `postgresql://postgres@127.0.0.1:${pg.cluster.connection().port}/shop`;
  await mkdir(join(dir, 'tmp'));
  env = { PATH: process.env.PATH, HOME: dir, TMPDIR: join(dir, 'tmp'), STRONGBOX_HOME: join(dir, 'state'), NODE_OPTIONS: '--no-warnings', PGPASSWORD: PASSWORD };
  const backup = await runCli(['backup', '--json', '--database-url', url]);
  expect(backup.code, backup.stderr).toBe(0);
  backupId = JSON.parse(backup.stdout).id;
  original = await fingerprint(shop());
});
afterAll(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('strongbox restore', () => {
  it('--dry-run prints the plan and changes nothing', async () => {
    const names = await databaseNames(shop());

    const human = await runCli(['restore', 'latest', '--target-url', url, '--dry-run']);
    const json = await runCli(['restore', 'latest', '--target-url', url, '--dry-run', '--json', '--drop-first']);

    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`Restore plan: backup ${backupId} of "shop"`);
    expect(human.stdout).toMatch(/ {2}1\. drop leftover scratch databases/);
    expect(human.stdout).toMatch(/swap: end the sessions on "shop", rename it to "shop_before_restore_\d{14}"/);
    expect(human.stdout).toContain('dry run: nothing was changed');
    expect(json.code, json.stderr).toBe(0);
    const plan = JSON.parse(json.stdout);
    expect(plan).toMatchObject({ dryRun: true, backupId, database: 'shop', restoreInto: 'shop', keptAs: null, dropFirst: true, jobs: 2 });
    expect(plan.steps.some((step: string) => step.startsWith('DROP the target database "shop" now (--drop-first)'))).toBe(true);
    expect(await databaseNames(shop())).toEqual(names);
    expect(await fingerprint(shop())).toEqual(original);
  });

  it('refuses without --yes and without a terminal (exit 2), and a password in --target-url (exit 1)', async () => {
    const noYes = await runCli(['restore', 'latest', '--target-url', url]);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/no terminal to confirm on\nHINT: pass --yes/);

    const withPassword = await runCli(['restore', 'latest', '--json', '--yes', '--target-url', url.replace('postgres@', 'postgres:hunter2@')]);
    expect(withPassword.code).toBe(1);
    expect(JSON.parse(withPassword.stdout).error).toMatchObject({ code: 'INPUT_INVALID', message: expect.stringContaining('--target-url must not contain a password') });
    expect(withPassword.stdout + withPassword.stderr).not.toContain('hunter2');

    expect((await runCli(['restore', 'latest', '--target-url', url, '--jobs', 'many', '--yes'])).code).toBe(2);
    expect((await runCli(['restore', 'latest', '--yes'])).code).toBe(2);
    expect(await fingerprint(shop())).toEqual(original);
  });

  it('--yes --json restores over a changed database, keeps the old one and reports', async () => {
    await sql(shop(), 'DELETE FROM "Sales".orders WHERE id % 3 = 0');

    const result = await runCli(['restore', 'latest', '--target-url', url, '--yes', '--json']);

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ backupId, database: 'shop', target: url, keptAs: expect.stringMatching(/^shop_before_restore_\d{14}$/), tables: 4, rows: 1200, droppedLeftovers: [] });
    expect(report.seconds).toBeGreaterThan(0);
    expect(report.steps.map((s: { name: string }) => s.name)).toEqual(['plan', 'cleanup', 'download', 'check', 'restore', 'verify', 'swap']);
    expect(await fingerprint(shop())).toEqual(original);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('a restore killed with SIGKILL leaves the target as it was; the next run drops its scratch database', async () => {
    await sql(shop(), 'DELETE FROM public.events WHERE id % 2 = 0');
    const changed = await fingerprint(shop());
    const child = spawnCli(['restore', backupId, '--target-url', url, '--yes', '--json']);
    let scratch: string | undefined;
    for (let i = 0; i < 1000 && !scratch; i++) {
      scratch = (await databaseNames(shop())).find((name) => name.startsWith('shop_restoring_'));
      if (!scratch) await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    expect(scratch).toMatch(/^shop_restoring_\d{14}$/);
    expect(await fingerprint(shop())).toEqual(changed);
    await new Promise((r) => setTimeout(r, 1_100)); // the next run's scratch gets another timestamp

    const again = await runCli(['restore', backupId, '--target-url', url, '--yes', '--json']);

    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).droppedLeftovers).toEqual([scratch]);
    expect((await databaseNames(shop())).filter((name) => name.includes('_restoring_'))).toEqual([]);
    expect(await fingerprint(shop())).toEqual(original);
  });
});

describe('confirmation on a terminal (the command in-process)', () => {
  function capture(): Output & { out: string; err: string } {
    const output = { json: true, interactive: false, out: '', err: '', stdout: (t: string) => void (output.out += t), stderr: (t: string) => void (output.err += t) };
    return output;
  }

  it('a wrong name cancels; the right name restores', async () => {
    Object.assign(process.env, { STRONGBOX_HOME: env.STRONGBOX_HOME, PGPASSWORD: PASSWORD });
    const flags = { targetUrl: url, jobs: '1' };
    await sql(shop(), "UPDATE public.customers SET notes = 'changed' WHERE id < 10");
    const questions: string[] = [];

    const wrong = capture();
    await expect(restoreCommand('latest', flags, wrong, async (q) => (questions.push(q), 'shop2'))).rejects.toMatchObject({ code: 'INPUT_INVALID', message: expect.stringContaining('restore cancelled') });
    expect(wrong.err).toContain('Restore plan:');
    expect(questions).toEqual(['Type the target database\'s name ("shop") to go ahead: ']);
    expect(await fingerprint(shop())).not.toEqual(original);

    const right = capture();
    expect(await restoreCommand('latest', flags, right, async () => ' shop\n')).toBe(0);
    expect(JSON.parse(right.out)).toMatchObject({ backupId, keptAs: expect.stringMatching(/^shop_before_restore_/) });
    expect(await fingerprint(shop())).toEqual(original);
  });
  it('the database kept is the one the confirmed plan named, even when the name is typed seconds later', async () => {
    Object.assign(process.env, { STRONGBOX_HOME: env.STRONGBOX_HOME, PGPASSWORD: PASSWORD });
    // Past the second of the last restore's kept database (a name taken is another case: the next second's).
    const stamp = () => new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const newest = (await databaseNames(shop())).filter((name) => name.startsWith('shop_before_restore_')).map((name) => name.slice(-14)).sort().at(-1) ?? '';
    while (stamp() <= newest) await new Promise((r) => setTimeout(r, 20));
    const output = capture();
    // The operator reads the plan and types the name in another second than the plan's.
    const slowOperator = async () => {
      const asked = Math.floor(Date.now() / 1000);
      while (Math.floor(Date.now() / 1000) === asked) await new Promise((r) => setTimeout(r, 20));
      return 'shop';
    };

    expect(await restoreCommand('latest', { targetUrl: url, jobs: '1' }, output, slowOperator)).toBe(0);

    const planned = /rename it to "(shop_before_restore_\d{14})"/.exec(output.err)?.[1];
    expect(planned).toBeDefined();
    const report = JSON.parse(output.out);
    expect(report.keptAs).toBe(planned);
    expect(await databaseNames(shop())).toContain(planned);
    expect(await fingerprint(shop())).toEqual(original);
  });

  it('--globals --after: roles applied first, the command run on the restored database; a failing command exits 1 after the restore', async () => {
    const ok = await runCli(['restore', 'latest', '--target-url', url, '--globals', '--after', 'psql -X -q -c "SELECT 1" && echo after-ran-on-$PGDATABASE', '--yes', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report.globals.existing).toContain('role postgres');
    expect(report.after).toMatchObject({ ok: true, exitCode: 0, command: expect.stringContaining('after-ran-on') });
    expect(ok.stderr).toContain('after-ran-on-shop');
    expect(ok.stdout + ok.stderr).not.toContain(PASSWORD);

    const failed = await runCli(['restore', 'latest', '--target-url', url, '--after', 'exit 4', '--yes']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stdout, failed.stderr).toContain('post-restore command FAILED (exit 4)');
    expect(failed.stderr).toContain('the restore is complete and in place, but the post-restore command failed');
    expect(await fingerprint(shop())).toEqual(original);
  });
});
