import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { startTestCluster, type TestCluster } from '../support/pg';
import { flipByte } from '../support/validate';

// STRONGBOX_TEST_CLI runs the same tests against another build of the CLI.
const CLI = resolve(process.env.STRONGBOX_TEST_CLI ?? 'dist/cli.js');
const PASSWORD = 'validate-Secret-3';
let pg: TestCluster;
let dir: string;
let env: NodeJS.ProcessEnv;
let url: string;
let backup: { id: string; key: string };

/** Runs the built CLI as a user would, with no terminal. */
function runCli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
  await seedSampleData(pg.cluster.connection('shop'), { rows: 300 });
  dir = await mkdtemp(join(tmpdir(), 'sbx-validate-cli-'));
  // The drill's throwaway server lives under TMPDIR and runs as the postgres OS user when we are root.
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'tmp'), { mode: 0o755 });
  url = `postgresql://postgres@127.0.0.1:${pg.cluster.connection().port}/shop`;
  env = { PATH: process.env.PATH, HOME: dir, TMPDIR: join(dir, 'tmp'), STRONGBOX_HOME: join(dir, 'state'), NODE_OPTIONS: '--no-warnings', PGPASSWORD: PASSWORD };
  const result = await runCli(['backup', '--json', '--database-url', url]);
  expect(result.code, result.stderr).toBe(0);
  backup = JSON.parse(result.stdout);
});
afterAll(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('strongbox validate', () => {
  it('latest --json after a backup: exit 0, the report, lastValidation in `list`, nothing left in TMPDIR', async () => {
    const result = await runCli(['validate', 'latest', '--json']);

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ backupId: backup.id, database: 'shop', ok: true, tables: 4, rows: 1200, scratch: 'a throwaway PostgreSQL', warnings: [] });
    expect(report.seconds).toBeGreaterThan(0);
    expect(Object.keys(report.split)).toEqual(['scratch', 'download', 'restore', 'verify']);
    const listed = JSON.parse((await runCli(['list', '--json'])).stdout);
    expect(listed.find((e: { id: string }) => e.id === backup.id)).toMatchObject({ state: 'VERIFIED', lastValidation: { at: report.at, ok: true, seconds: report.seconds } });
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);

    const human = await runCli(['validate', 'latest']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/: OK, RTO \d+\.\d s \(scratch server start \d+\.\d s, download \d+\.\d s, restore \d+\.\d s, verify \d+\.\d s\)\n/);
    expect(human.stdout).toContain("the RTO runs from the scratch server's start to the verified restore");
  });

  it('a damaged dump: exit 1, "Validation FAILED" with the reason, an ALERT line, lastValidation ok=false', async () => {
    await flipByte(new FolderStorage(join(dir, 'state', 'repository')), backup.key);

    const result = await runCli(['validate', backup.id]);

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^Validation FAILED: backup ${backup.id} of "shop"`));
    expect(result.stdout).toContain('reason: CHECKSUM_MISMATCH during download');
    expect(result.stdout).toContain('HINT: the stored copy is damaged');
    expect(result.stderr).toMatch(/^ALERT \{"type":"VALIDATION_FAILED","severity":"SEV2"/m);
    const listed = JSON.parse((await runCli(['list', '--json'])).stdout);
    expect(listed.find((e: { id: string }) => e.id === backup.id).lastValidation).toMatchObject({ ok: false, reason: expect.stringContaining('CHECKSUM_MISMATCH') });
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('refuses: nothing VERIFIED left (exit 1), a password in --scratch-url (exit 1, not echoed), a production server as scratch', async () => {
    const none = await runCli(['validate', '--json', '--database', 'shop']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout).error).toMatchObject({ code: 'BACKUP_NOT_FOUND', message: expect.stringContaining('no VERIFIED full logical backup of database "shop"') });

    const withPassword = await runCli(['validate', '--json', '--scratch-url', 'postgresql://drill:hunter2@127.0.0.1:1/postgres']);
    expect(withPassword.code).toBe(1);
    expect(JSON.parse(withPassword.stdout).error).toMatchObject({ code: 'INPUT_INVALID', message: expect.stringContaining('--scratch-url must not contain a password') });
    expect(withPassword.stdout + withPassword.stderr).not.toContain('hunter2');

    const production = await runCli(['validate', '--json', '--scratch-url', url], { DATABASE_URL: url });
    expect(production.code).toBe(1);
    expect(JSON.parse(production.stdout).error).toMatchObject({ code: 'INPUT_INVALID', message: expect.stringContaining('a server Strongbox backs up') });
  });
});
