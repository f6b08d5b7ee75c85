import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import { startTestCluster, type TestCluster } from '../support/pg';

const CLI = resolve('dist/cli.js');
const PASSWORD = 'cli-Secret-9';
let pg: TestCluster;
let dir: string;
let env: NodeJS.ProcessEnv;
let url: string;

/** Runs the built CLI as a user would, with no terminal. */
export function runCli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  pg = await startTestCluster({ password: PASSWORD });
  await pg.cluster.createDatabase('shop');
  await seedSampleData(pg.cluster.connection('shop'), { rows: 200 });
  dir = await mkdtemp(join(tmpdir(), 'sbx-cli-'));
  url = `postgresql://postgres@127.0.0.1:${pg.cluster.connection().port}/shop`;
  env = { PATH: process.env.PATH, HOME: dir, STRONGBOX_HOME: join(dir, 'state'), NODE_OPTIONS: '--no-warnings' };
});
afterAll(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('strongbox CLI', () => {
  it('backup --json returns the final entry with the documented fields; list shows it', async () => {
    const withPassword = url.replace('postgres@', `postgres:${PASSWORD}@`);
    const backup = await runCli(['backup', '--json', '--tier', 'pre-migration'], { DATABASE_URL: withPassword });
    expect(backup.stderr).not.toContain(PASSWORD);
    expect(backup.code, backup.stderr).toBe(0);
    const result = JSON.parse(backup.stdout);
    expect(Object.keys(result).sort()).toEqual(['bytes', 'database', 'finishedAt', 'id', 'key', 'sha256', 'startedAt', 'state', 'tier'].sort());
    expect(result).toMatchObject({ state: 'VERIFIED', tier: 'pre-migration', database: 'shop' });
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);

    const list = await runCli(['list', '--json']);
    expect(list.code).toBe(0);
    const entries = JSON.parse(list.stdout);
    expect(Array.isArray(entries)).toBe(true);
    expect(entries[0]).toMatchObject({ id: result.id, state: 'VERIFIED' });
    const human = await runCli(['list']);
    expect(human.stdout).toContain(result.id);
  });

  it('a password in --database-url is refused (exit 1, error JSON with code and hint)', async () => {
    const refused = await runCli(['backup', '--json', '--database-url', url.replace('postgres@', 'postgres:hunter2@')]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toEqual({ error: { code: 'INPUT_INVALID', message: expect.stringContaining('password'), hint: expect.stringContaining('DATABASE_URL') } });
    expect(refused.stderr).toMatch(/HINT: /);
  });

  it('PGPASSFILE carries the password for --database-url; an unreachable server fails with a hint', async () => {
    const passfile = join(dir, 'pgpass');
    await import('node:fs/promises').then((fs) => fs.writeFile(passfile, `127.0.0.1:*:*:postgres:${PASSWORD}\n`, { mode: 0o600 }));
    const ok = await runCli(['backup', '--database-url', url, '--table', 'public.customers'], { PGPASSFILE: passfile });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/VERIFIED/);

    const down = await runCli(['backup', '--json', '--database-url', url.replace(/:\d+\//, ':1/')], { PGPASSFILE: passfile });
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stdout).error.code).toBe('DB_UNREACHABLE');
  });

  it('usage errors exit 2; --help shows an example', async () => {
    expect((await runCli(['backup', '--tier', 'hourly', '--database-url', url])).code).toBe(2);
    expect((await runCli(['backup', '--no-such-flag'])).code).toBe(2);
    expect((await runCli(['frobnicate'])).code).toBe(2);
    for (const command of ['backup', 'list', 'export-csv', 'start', 'catalog rebuild', 'restore']) {
      const help = await runCli([...command.split(' '), '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Example/);
    }
  });

  it('export-csv writes the table with a header, whole', async () => {
    const out = join(dir, 'customers.csv');
    const result = await runCli(['export-csv', '--json', '--database-url', url, '--table', 'public.customers', '--out', out], { PGPASSWORD: PASSWORD });
    expect(result.code, result.stderr).toBe(0);
    const { rows } = JSON.parse(result.stdout);
    const lines = (await readFile(out, 'utf8')).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id,/);
    expect(lines.length - 1).toBe(rows);
    expect(rows).toBeGreaterThan(0);
    const missing = await runCli(['export-csv', '--database-url', url, '--table', 'nope', '--out', join(dir, 'nope.csv')], { PGPASSWORD: PASSWORD });
    expect(missing.code).toBe(1);
    await expect(readFile(join(dir, 'nope.csv'))).rejects.toThrow();
  });

  it('export-csv of a misspelled table: the near matches, and a hint about export-csv (not backup)', async () => {
    const typo = await runCli(['export-csv', '--json', '--database-url', url, '--table', 'public.custmers', '--out', join(dir, 'typo.csv')], { PGPASSWORD: PASSWORD });

    expect(typo.code).toBe(1);
    const { error } = JSON.parse(typo.stdout);
    expect(error).toMatchObject({ code: 'INPUT_INVALID', message: 'no table of database "shop" matches "public.custmers"; near matches: "public"."customers"' });
    expect(error.hint).toMatch(/^export-csv takes one table/);
    expect(error.hint).not.toContain('backup');
    await expect(readFile(join(dir, 'typo.csv'))).rejects.toThrow();
  });

  it('catalog rebuild restores the catalog from storage alone', async () => {
    await rm(join(dir, 'state', 'catalog'), { recursive: true, force: true });
    expect(JSON.parse((await runCli(['list', '--json'])).stdout)).toEqual([]);
    const rebuilt = await runCli(['catalog', 'rebuild', '--json']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ manifests: 2, created: 2, verified: 2, failed: 0 });
    expect(JSON.parse((await runCli(['list', '--json'])).stdout).map((e: { state: string }) => e.state)).toEqual(['VERIFIED', 'VERIFIED']);
  });
});
