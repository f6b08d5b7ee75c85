import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../shared/adapters/postgres/cluster';
import { parseWalRecordKey } from '../../shared/domain/wal/keys';
import { loadConfig } from '../../shared/local/config-file';
import { openLocalContext, type LocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';

const CLI = resolve('dist/cli.js');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
let dir: string;
let server: ChildProcess | undefined;
let output = '';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH, STRONGBOX_HOME: join(dir, 'home') } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server said:\n${output}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-start-'));
  await chmod(dir, 0o755); // the demo cluster runs as the postgres user when tests run as root
});
afterAll(async () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  const cluster = await LocalCluster.open(join(dir, 'home', 'postgres')).catch(() => undefined);
  await cluster?.stop().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('npm start (local mode, no DATABASE_URL)', () => {
  it('creates a demo cluster, catches up with a backup at once, shares its catalog with the CLI, and stops cleanly on Ctrl-C', async () => {
    server = spawn(process.execPath, [CLI, 'start'], { cwd: dir, env: { PATH: process.env.PATH, STRONGBOX_HOME: join(dir, 'home') } });
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    await waitFor('Ready', () => (output.includes('Ready.') ? true : undefined));
    expect(output).toMatch(/storage +file:\/\//);
    expect(output).toMatch(/catalog +http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/next +backup demo at \d{4}-\d\d-\d\dT03:00:00\.000Z/);
    expect(output).toMatch(/catch-up +no recent monthly backup of demo/);
    expect(output).not.toMatch(/postgresql:\/\/[^ ]*:[^ ]*@/); // no password printed
    expect(output).toContain(`creating a throwaway PostgreSQL with sample data (${join(dir, 'home', 'postgres')})`);
    // How to connect: the passfile named, a psql line that works as printed.
    const connect = /^ {2}connect {5}(PGPASSFILE=\S+ psql postgresql:\/\/postgres@127\.0\.0\.1:\d+\/demo)$/m.exec(output)?.[1];
    expect(connect).toBe(`PGPASSFILE=${join(dir, 'home', 'demo.pgpass')} psql ${connect!.split(' psql ')[1]}`);
    const psql = await new Promise<string>((done, fail) =>
      execFile('sh', ['-c', `${connect} -X -A -t -c 'SELECT count(*) > 0 FROM public.customers'`], { env: { PATH: process.env.PATH } }, (error, stdout) => (error ? fail(error) : done(stdout))),
    );
    expect(psql.trim()).toBe('t');

    const entry = await waitFor('the catch-up backup', async () => {
      const list = await cli(['list', '--json']);
      const entries = JSON.parse(list.stdout || '[]') as Array<{ state: string; tier: string; database: string; kind: string }>;
      return entries.find((e) => e.kind === 'logical' && (e.state === 'VERIFIED' || e.state === 'FAILED'));
    });
    expect(entry).toMatchObject({ state: 'VERIFIED', tier: 'monthly', database: 'demo' });

    const again = await cli(['start']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already running/);

    const manual = await cli(['backup', '--database', 'demo', '--json']);
    expect(manual.code).toBe(0);
    expect(JSON.parse(manual.stdout)).toMatchObject({ state: 'VERIFIED', database: 'demo', tier: 'manual' });

    // Archiving: the demo cluster pushes WAL through the endpoint into the repository, indexed in the catalog.
    expect(output).toMatch(/archive +http:\/\/127\.0\.0\.1:\d+ \(WAL archive endpoint/);
    expect(output).toMatch(/archive_command = '''.*\/wal\/demo\/wal-push'' %p'/);
    const password = readFileSync(join(dir, 'home', 'demo.pgpass'), 'utf8').trim().split(':').slice(4).join(':');
    const demo = await LocalCluster.open(join(dir, 'home', 'postgres'), { superuserPassword: password });
    const switched = (await demo.psql("SELECT pg_walfile_name(pg_catalog.pg_switch_wal());")).trim();
    const archived = await waitFor('the switched segment archived', async () => {
      const row = (await demo.psql('SELECT last_archived_wal, failed_count FROM pg_stat_archiver;')).trim();
      const [last, failed] = row.split('|');
      expect(failed).toBe('0');
      return last && last >= switched ? last : undefined;
    });
    const recordDir = join(dir, 'home', 'repository', 'wal', 'demo', archived.slice(0, 16));
    expect(existsSync(join(recordDir, `${archived}.json`))).toBe(true);
    const base = await waitFor('the catch-up base backup', async () => {
      const list = await cli(['list', '--json']);
      const entries = JSON.parse(list.stdout || '[]') as Array<{ id: string; state: string; kind: string }>;
      return entries.find((e) => e.kind === 'base' && (e.state === 'VERIFIED' || e.state === 'FAILED'));
    });
    expect(base.state).toBe('VERIFIED');
    expect(output).toMatch(/catch-up +no recent base backup of demo/);
    const plan = await cli(['pitr', '--database', 'demo', '--latest', '--dry-run', '--json']);
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout)).toMatchObject({ dryRun: true, baseBackup: base.id });
    const point = await cli(['restore-point', 'e2e-point', '--database', 'demo', '--json']);
    expect(point.code).toBe(0);
    expect(JSON.parse(point.stdout)).toMatchObject({ name: 'e2e-point' });

    server.kill('SIGINT');
    const code = await new Promise<number | null>((done) => server!.once('exit', (exitCode) => done(exitCode)));
    expect(code).toBe(0);
    expect(output).toContain('Stopped.');
    expect(existsSync(join(dir, 'home', 'instance.json'))).toBe(false);
    const cluster = await LocalCluster.open(join(dir, 'home', 'postgres'));
    expect(await cluster.isRunning()).toBe(false);
  }, 240_000);

  // Follows the test above, on its home. `npm start` indexes WAL records after the push answered, in batches (docs/wal.md, "Indexing").
  it('indexed every archived record before it stopped; records the catalog lacks (a kill -9 inside the window) are indexed at the next start', async () => {
    // Prepare: every record in storage is in the catalog; then the newest segment's record is taken out of it
    const env = { PATH: process.env.PATH, STRONGBOX_HOME: join(dir, 'home') };
    const open = () => openLocalContext({ paths: resolveHome(env, dir), storage: loadConfig(env, dir).config.storage, env, log: quiet });
    let context: LocalContext = await open();
    let newest: string;
    try {
      const names: string[] = [];
      for await (const object of context.storage.list('wal/demo/')) {
        const parsed = parseWalRecordKey(object.key);
        if (parsed) names.push(parsed.name);
      }
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(await context.walCatalog.getWal('demo', name), name).toBeDefined();
      const ranges = await context.walCatalog.listRanges('demo', 1);
      newest = ranges.at(-1)!.last.name;
      await context.walCatalog.deleteWalRecords('demo', [newest]);
      expect(await context.walCatalog.getWal('demo', newest)).toBeUndefined();
    } finally {
      await context.close();
    }

    // Act: start again
    output = '';
    server = spawn(process.execPath, [CLI, 'start'], { cwd: dir, env });
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('the reconciliation at start', () => (/indexed \d+ archived WAL file\(s\) the catalog lacked/.test(output) ? true : undefined));
    server.kill('SIGINT');
    expect(await new Promise<number | null>((done) => server!.once('exit', (exitCode) => done(exitCode)))).toBe(0);

    // Assess: the record is back in the catalog, with its range
    context = await open();
    try {
      expect(await context.walCatalog.getWal('demo', newest)).toBeDefined();
      expect((await context.walCatalog.listRanges('demo', 1)).some((range) => range.first.name <= newest && range.last.name >= newest)).toBe(true);
    } finally {
      await context.close();
    }
  }, 180_000);
});
