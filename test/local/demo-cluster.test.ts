/**
 * Local mode's demo PostgreSQL as an on-call engineer meets it (issue 13): how to connect
 * to it (its password lives in a passfile), the CLI's login check of a --target-url before
 * anything is confirmed, and what a restart says it does with the data.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../shared/adapters/postgres/cluster';
import type { PgConnection } from '../../shared/ports/postgres';
import { backupCommand } from '../../shared/cli/commands/backup';
import { restoreCommand } from '../../shared/cli/commands/restore';
import { restoreTableCommand } from '../../shared/cli/commands/restore-table';
import { validateCommand } from '../../shared/cli/commands/validate';
import type { Output } from '../../shared/cli/output';
import { demoClusterAnnouncement, demoPassfilePath, demoPsqlCommand, ensureDemoCluster } from '../../shared/local/demo-cluster';
import { resolveHome, type HomePaths } from '../../shared/local/home';
import { captureLog } from '../support/stack';

const run = promisify(execFile);
let dir: string;
let paths: HomePaths;
let cluster: LocalCluster;
let connection: PgConnection;
let url: string;
let password: string;
let firstAnnouncement: string;
let firstCreated: boolean;
const savedEnv = { ...process.env };
const savedCwd = process.cwd();

function capture(json = true): Output & { out: string; err: string } {
  const output = { json, interactive: false, out: '', err: '', stdout: (t: string) => void (output.out += t), stderr: (t: string) => void (output.err += t) };
  return output;
}

/** The environment of a shell with no password anywhere (no PGPASSWORD, no PGPASSFILE, no ~/.pgpass). */
function noPasswordEnv(): void {
  for (const name of ['PGPASSWORD', 'PGPASSFILE', 'DATABASE_URL', 'STRONGBOX_CONFIG', 'STRONGBOX_SLACK_WEBHOOK_URL']) delete process.env[name];
  process.env.HOME = dir;
  process.env.STRONGBOX_HOME = paths.root;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-demo-'));
  await chmod(dir, 0o755); // the cluster runs as the postgres user when tests run as root
  paths = resolveHome({ STRONGBOX_HOME: join(dir, 'home') }, dir);
  await import('node:fs/promises').then((fs) => fs.mkdir(paths.root, { recursive: true }));
  firstAnnouncement = demoClusterAnnouncement(paths);
  const demo = await ensureDemoCluster(paths, captureLog());
  firstCreated = demo.created;
  cluster = demo.cluster;
  connection = demo.connection;
  url = `postgresql://postgres@127.0.0.1:${connection.port}/demo`;
  password = (await import('node:fs/promises').then((fs) => fs.readFile(demoPassfilePath(paths), 'utf8'))).trim().split(':').slice(4).join(':');
  noPasswordEnv();
  process.env.TMPDIR = dir;
  process.chdir(dir);
  expect(await backupCommand({ database: 'demo', tier: 'manual', table: [] }, capture())).toBe(0);
});
afterAll(async () => {
  process.chdir(savedCwd);
  process.env = { ...savedEnv };
  await cluster?.stop().catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('how to connect to the demo database', () => {
  it('demoPsqlCommand is a shell line that logs in with the passfile, without the password in it', async () => {
    const line = demoPsqlCommand(connection);
    expect(line).toBe(`PGPASSFILE=${demoPassfilePath(paths)} psql postgresql://postgres@127.0.0.1:${connection.port}/demo`);
    expect(line).not.toContain(password);

    const { stdout } = await run('sh', ['-c', `${line} -X -A -t -c 'SELECT count(*) > 0 FROM public.customers'`], { env: { PATH: process.env.PATH, HOME: dir } });

    expect(stdout.trim()).toBe('t');
  });

  it('quotes a passfile path with a space or a quote', () => {
    expect(demoPsqlCommand({ ...connection, passfile: "/srv/it's here/demo.pgpass" })).toMatch(/^PGPASSFILE='\/srv\/it'\\''s here\/demo\.pgpass' psql /);
  });
});

describe('--target-url: the login is checked before the confirmation', () => {
  const asked: string[] = [];
  const confirm = async (question: string) => (asked.push(question), 'not-the-name');

  it('restore without a password: DB_AUTH_FAILED before any question, the hint names PGPASSFILE and the demo passfile', async () => {
    noPasswordEnv();
    asked.length = 0;
    const failure = await restoreCommand('latest', { targetUrl: url, jobs: '1' }, capture(), confirm).then(
      () => undefined,
      (error: unknown) => error as { code: string; message: string; hint: string },
    );

    expect(asked).toEqual([]);
    expect(failure?.code).toBe('DB_AUTH_FAILED');
    expect(failure?.message).toContain('(--target-url): no password was given (none in PGPASSWORD, PGPASSFILE or ~/.pgpass)');
    expect(failure?.message).not.toContain('SASL');
    expect(failure?.hint).toContain('PGPASSFILE=FILE');
    expect(failure?.hint).toContain(`its password is in ${demoPassfilePath(paths)} — add PGPASSFILE=${demoPassfilePath(paths)} before the command`);
    expect(`${failure?.message} ${failure?.hint}`).not.toContain(password);
  });

  it('restore-table and validate --scratch-url check the same way', async () => {
    noPasswordEnv();
    asked.length = 0;
    await expect(restoreTableCommand('latest', { table: 'public.customers', targetUrl: url, mode: 'append' }, capture(), confirm)).rejects.toMatchObject({
      code: 'DB_AUTH_FAILED',
      hint: expect.stringContaining(`PGPASSFILE=${demoPassfilePath(paths)}`),
    });
    expect(asked).toEqual([]);
    await expect(validateCommand('latest', { scratchUrl: url }, capture())).rejects.toMatchObject({ code: 'DB_AUTH_FAILED', message: expect.stringContaining('(--scratch-url)') });
  });

  it('a passfile others can read is named as the reason', async () => {
    noPasswordEnv();
    const open = join(dir, 'open.pgpass');
    await writeFile(open, `127.0.0.1:*:*:postgres:${password}\n`, { mode: 0o644 });
    await chmod(open, 0o644);
    process.env.PGPASSFILE = open;

    await expect(restoreCommand('latest', { targetUrl: url, jobs: '1' }, capture(), confirm)).rejects.toMatchObject({
      code: 'DB_AUTH_FAILED',
      message: expect.stringContaining(`the passfile ${open} is ignored because others can read it (chmod 600 ${open})`),
    });
  });

  it('with PGPASSFILE the login passes and the question is asked', async () => {
    noPasswordEnv();
    process.env.PGPASSFILE = demoPassfilePath(paths);
    asked.length = 0;

    await expect(restoreCommand('latest', { targetUrl: url, jobs: '1' }, capture(), confirm)).rejects.toMatchObject({ code: 'INPUT_INVALID', message: expect.stringContaining('restore cancelled') });
    await expect(restoreTableCommand('latest', { table: 'public.customers', targetUrl: url, mode: 'append' }, capture(), confirm)).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      message: expect.stringContaining('table restore cancelled'),
    });

    expect(asked).toHaveLength(2);
  });
});

describe('a restart of npm start', () => {
  it('the first start says it creates the cluster with sample data; a restart says it reuses it, and keeps the data', async () => {
    expect(firstCreated).toBe(true);
    expect(firstAnnouncement).toBe(`No DATABASE_URL and no databases in strongbox.config.json: creating a throwaway PostgreSQL with sample data (${paths.cluster})…`);
    await cluster.psql("UPDATE public.customers SET notes = 'kept across a restart' WHERE id = 1;", 'demo');
    await cluster.stop();

    const announcement = demoClusterAnnouncement(paths);
    const again = await ensureDemoCluster(paths, captureLog());
    cluster = again.cluster;

    expect(announcement).toBe(`No DATABASE_URL and no databases in strongbox.config.json: starting the demo PostgreSQL of an earlier start (${paths.cluster}), its data as it was left…`);
    expect(announcement).not.toContain('sample data');
    expect(again.created).toBe(false);
    expect((await cluster.psql('SELECT notes FROM public.customers WHERE id = 1;', 'demo')).trim()).toBe('kept across a restart');
  });
});
