/**
 * `strongbox restore-table --time` from the built CLI beside `npm start` (local mode): the
 * demo cluster archives through the endpoint and gets its catch-up base backup; rows of
 * public.customers are damaged after a moment; the command (dry run, then for real, no
 * terminal, --yes) recovers a scratch cluster from the archive and puts the table back as it
 * was at that moment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../shared/adapters/postgres/cluster';

const CLI = resolve('dist/cli.js');
let dir: string;
let server: ChildProcess | undefined;
let output = '';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH, STRONGBOX_HOME: join(dir, 'home'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server said:\n${output}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-asof-e2e-'));
  await chmod(dir, 0o755);
});
afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGINT');
    await new Promise((done) => server!.once('exit', done));
  }
  const cluster = await LocalCluster.open(join(dir, 'home', 'postgres')).catch(() => undefined);
  await cluster?.stop().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('restore-table --time from the CLI beside npm start', () => {
  it('puts public.customers back as it was at a moment, from the archive', async () => {
    server = spawn(process.execPath, [CLI, 'start'], { cwd: dir, env: { PATH: process.env.PATH, STRONGBOX_HOME: join(dir, 'home') } });
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('Ready', async () => (output.includes('Ready.') ? true : undefined));
    await waitFor('the catch-up base backup', async () => {
      const entries = JSON.parse((await cli(['list', '--json'])).stdout || '[]') as Array<{ state: string; kind: string }>;
      return entries.find((e) => e.kind === 'base' && e.state === 'VERIFIED');
    });
    const passfile = join(dir, 'home', 'demo.pgpass');
    const password = readFileSync(passfile, 'utf8').trim().split(':').slice(4).join(':');
    const demo = await LocalCluster.open(join(dir, 'home', 'postgres'), { superuserPassword: password });
    const fingerprint = async () => (await demo.psql("SELECT count(*) || ':' || md5(string_agg(id || '/' || name || '/' || coalesce(notes, ''), ',' ORDER BY id)) FROM public.customers;", 'demo')).trim();
    const before = await fingerprint();
    await sleep(500);
    const moment = new Date().toISOString();
    await sleep(500);
    await demo.psql("UPDATE public.customers SET notes = 'overwritten by mistake';", 'demo');
    expect(await fingerprint()).not.toBe(before);
    const switched = (await demo.psql('SELECT pg_walfile_name(pg_catalog.pg_switch_wal());')).trim();
    await waitFor('the switched segment archived', async () => {
      const last = (await demo.psql('SELECT last_archived_wal FROM pg_stat_archiver;')).trim();
      return last >= switched ? last : undefined;
    });
    const url = `postgresql://postgres@127.0.0.1:${demo.connection().port}/demo`;
    const args = ['restore-table', '--time', moment, '--table', 'public.customers', '--mode', 'replace', '--target-url', url, '--database', 'demo', '--json'];

    const dry = await cli([...args, '--dry-run'], { PGPASSFILE: passfile });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, source: { baseBackup: expect.stringMatching(/-b-/), sourceDatabase: 'demo' } });

    const run = await cli([...args, '--yes'], { PGPASSFILE: passfile });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ mode: 'replace', asOf: { sourceDatabase: 'demo' }, tables: [{ table: '"public"."customers"' }] });
    expect(await fingerprint()).toBe(before);
  }, 300_000);
});
