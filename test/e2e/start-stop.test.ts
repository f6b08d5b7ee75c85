/**
 * Stopping `npm start` as a terminal does (issue 13, item 6): Ctrl-C signals the whole
 * foreground process group, `npm` forwards the same SIGINT once more, and under
 * `npm start | tee log` the same Ctrl-C stops tee, so stdout's reader is gone. In every
 * case a running backup is drained (or stopped after `stopWaitSeconds`, FAILED as
 * interrupted — not as a pg_dump failure), then the demo PostgreSQL, then the rest.
 *
 * The running backup is made to stay running by a lock: the test holds an ACCESS EXCLUSIVE
 * lock on a table of the demo database, so the catch-up pg_dump waits for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../shared/adapters/postgres/cluster';
import { ensureDemoCluster } from '../../shared/local/demo-cluster';
import { resolveHome } from '../../shared/local/home';

const CLI = resolve('dist/cli.js');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Started {
  dir: string;
  home: string;
  server: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  locker: pg.Client;
  cluster: LocalCluster;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

function cli(dir: string, home: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH, STRONGBOX_HOME: home } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, said: () => string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server said:\n${said()}`);
    await sleep(200);
  }
}

/**
 * A home whose demo PostgreSQL exists (with archive_mode on, so start does not restart it),
 * runs, and has `public.customers` locked by the test; then `strongbox start` in its own
 * process group (as a shell's foreground job), once the catch-up pg_dump waits on the lock.
 */
async function startBlocked(stopWaitSeconds: number): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-stop-'));
  await chmod(dir, 0o755); // the demo cluster runs as the postgres user when tests run as root
  const home = join(dir, 'home');
  await mkdir(home);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const { cluster, connection } = await ensureDemoCluster(resolveHome({ STRONGBOX_HOME: home }, dir), quiet);
  cleanups.push(() => cluster.stop('immediate'));
  await cluster.psql("ALTER SYSTEM SET archive_mode = 'on';");
  await cluster.stop();
  await cluster.start();
  const password = readFileSync(join(home, 'demo.pgpass'), 'utf8').trim().split(':').slice(4).join(':');
  const locker = new pg.Client({ host: connection.host, port: connection.port, user: connection.user, database: connection.database, password });
  await locker.connect();
  locker.on('error', () => undefined); // the server stops under it
  cleanups.push(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE public.customers IN ACCESS EXCLUSIVE MODE');
  await writeFile(join(dir, 'strongbox.config.json'), JSON.stringify({ stopWaitSeconds }));

  let stdout = '';
  let stderr = '';
  const server = spawn(process.execPath, [CLI, 'start'], { cwd: dir, detached: true, env: { PATH: process.env.PATH, STRONGBOX_HOME: home } });
  server.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  server.stdout!.on('error', () => undefined);
  cleanups.push(async () => {
    if (server.exitCode === null && server.signalCode === null) process.kill(-server.pid!, 'SIGKILL');
  });
  const said = () => `${stdout}\n--- stderr ---\n${stderr}`;
  await waitFor('Ready', () => (stdout.includes('Ready.') ? true : undefined), said);
  expect(stdout).toMatch(/catch-up +no recent monthly backup of demo/);
  await waitFor(
    'the catch-up pg_dump waiting on the lock',
    async () => {
      // Inside the locking transaction the activity view is a snapshot: refresh it first.
      await locker.query('SELECT pg_stat_clear_snapshot()');
      const waiting = await locker.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
      return Number(waiting.rows[0]!.n) > 0 ? true : undefined;
    },
    said,
  );
  return { dir, home, server, stdout: () => stdout, stderr: () => stderr, locker, cluster };
}

function exited(server: ChildProcess): Promise<number | null> {
  if (server.exitCode !== null) return Promise.resolve(server.exitCode);
  return new Promise((done) => server.once('exit', (code) => done(code)));
}

interface ListedEntry {
  id: string;
  kind: string;
  state: string;
  reason?: string;
}

async function entries(run: Started): Promise<ListedEntry[]> {
  const list = await cli(run.dir, run.home, ['list', '--json']);
  expect(list.code, list.stderr).toBe(0);
  return JSON.parse(list.stdout) as ListedEntry[];
}

/** After a stop: PostgreSQL down (no postmaster.pid), no instance.json, nothing left RUNNING. */
async function expectAllStopped(run: Started): Promise<ListedEntry[]> {
  expect(existsSync(join(run.home, 'postgres', 'postmaster.pid'))).toBe(false);
  expect(await run.cluster.isRunning()).toBe(false);
  expect(existsSync(join(run.home, 'instance.json'))).toBe(false);
  const listed = await entries(run);
  expect(listed.filter((entry) => entry.state === 'RUNNING')).toEqual([]);
  return listed;
}

describe('stopping npm start', () => {
  it('Ctrl-C (the terminal and npm both send SIGINT to the group) drains the running backup, then stops PostgreSQL and the rest', async () => {
    const run = await startBlocked(300);

    // Act: the terminal's SIGINT to the whole group, and npm's forwarded copy right after it.
    process.kill(-run.server.pid!, 'SIGINT');
    process.kill(run.server.pid!, 'SIGINT');
    await waitFor('the drain announced', () => (/waiting up to 300 s for \d running backups? to finish/.test(run.stderr()) ? true : undefined), () => run.stderr());

    // Assess: still draining — the dump task and PostgreSQL were not touched by the Ctrl-C.
    expect(run.stderr()).toMatch(/^Stopping \(SIGINT\): no new backups; running ones finish first/m);
    expect(run.stderr()).not.toMatch(/Stopping now/); // npm's copy of the same Ctrl-C is not a second one
    expect(run.server.exitCode).toBeNull();
    expect(await run.cluster.isRunning()).toBe(true);
    const running = (await entries(run)).find((entry) => entry.kind === 'logical');
    expect(running?.state).toBe('RUNNING');

    await run.locker.query('ROLLBACK'); // pg_dump goes on
    expect(await exited(run.server)).toBe(0);

    const said = run.stdout() + run.stderr();
    expect(said).toMatch(new RegExp(`backup ${running!.id} of demo \\(monthly\\): VERIFIED \\[exit 0\\]`));
    expect(said.indexOf('VERIFIED [exit 0]')).toBeLessThan(said.indexOf('stopping the demo PostgreSQL'));
    expect(run.stderr()).toMatch(/stopping the demo PostgreSQL…\n {2}stopping the WAL archive endpoint…\n {2}stopping the catalog…\nStopped\.\n$/);
    const listed = await expectAllStopped(run);
    expect(listed.find((entry) => entry.id === running!.id)?.state).toBe('VERIFIED');
  }, 300_000);

  it('Ctrl-C under `npm start | tee log` (stdout gone with the same Ctrl-C): the backup still running after stopWaitSeconds is FAILED as interrupted, and everything stops', async () => {
    const run = await startBlocked(2);

    // Act: tee dies of the same Ctrl-C: stdout's reader is gone when the SIGINT lands.
    run.server.stdout!.destroy();
    process.kill(-run.server.pid!, 'SIGINT');
    expect(await exited(run.server)).toBe(0);

    // Assess: every step on stderr, the backup interrupted by local mode (not blamed on pg_dump).
    const stderr = run.stderr();
    expect(stderr).toMatch(/^Stopping \(SIGINT\)/m);
    expect(stderr).toMatch(/stopping 1 backups? still running after 2 s: .*\(marked FAILED, interrupted\)/);
    expect(stderr).toMatch(/Stopped\.\n$/);
    const listed = await expectAllStopped(run);
    const logical = listed.find((entry) => entry.kind === 'logical');
    expect(logical).toMatchObject({ state: 'FAILED', reason: 'stopped by SIGTERM: local mode (npm start) was stopped before the backup finished' });
    for (const failed of listed.filter((entry) => entry.state === 'FAILED')) expect(failed.reason).toMatch(/^stopped by SIGTERM: local mode/);
  }, 300_000);

  it('stdout closed alone (tee stopped): the next line it writes stops npm start, draining first', async () => {
    const run = await startBlocked(300);

    // Act: the reader goes away; the backup's end is the next line written to stdout.
    run.server.stdout!.destroy();
    await run.locker.query('ROLLBACK');
    expect(await exited(run.server)).toBe(0);

    // Assess
    const stderr = run.stderr();
    expect(stderr).toMatch(/^Stopping \(stdout closed: EPIPE\)/m);
    expect(stderr).toMatch(/Stopped\.\n$/);
    const listed = await expectAllStopped(run);
    expect(listed.find((entry) => entry.kind === 'logical')?.state).toBe('VERIFIED');
  }, 300_000);
});
