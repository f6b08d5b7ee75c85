import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBaseBackupTools } from '../../shared/adapters/postgres/basebackup';
import { freePort, LocalCluster, serverUserIds, writeOwned } from '../../shared/adapters/postgres/cluster';
import { isRoot, runAsServerUser } from '../../shared/adapters/postgres/process';
import type { PgConnection } from '../../shared/ports/postgres';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry } from '../../shared/domain/backup';
import { pgEnv } from '../../shared/domain/connection';
import { parseManifest } from '../../shared/domain/manifest';
import { loadConfig } from '../../shared/local/config-file';
import { openLocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import { stderrLog } from '../../shared/local/stderr-log';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { lockName } from '../../shared/usecases/backup-lock';
import { rebuildCatalog } from '../../shared/usecases/rebuild-catalog';
import { runBaseBackup, type BaseBackupDeps, type BaseBackupRequest } from '../../shared/usecases/base-backup';
import { EXIT, runDumpTask } from '../../tasks/dump';
import { failingMidUpload } from '../support/faults';
import { keysUnder, startStack, TEST_PASSWORD, type Stack } from '../support/stack';

let stack: Stack;
let s3: Stack;

function deps(on: Stack = stack, overrides: Partial<BaseBackupDeps> = {}): BaseBackupDeps {
  return { ...on.deps, tools: pgBaseBackupTools, ...overrides };
}

function request(overrides: Partial<BaseBackupRequest> = {}): BaseBackupRequest {
  return { database: 'app', connection: stack.conn, tier: 'manual', compression: 'zstd', runner: 'test', ...overrides };
}

function psql(conn: PgConnection, sql: string): string {
  const result = spawnSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env: { ...process.env, ...pgEnv(conn) }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

/** Rows of every ordinary table of the database, by `schema.name`. */
function rowCounts(conn: PgConnection): Record<string, number> {
  const out = psql(
    conn,
    `SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  return Object.fromEntries(out.split('\n').map((line) => line.split('|')).map(([name, rows]) => [name!, Number(rows)]));
}

/**
 * Restores a stored base backup the way an operator would by hand: download, `zstd -d | tar -x`
 * into a new 0700 folder owned by postgres, a new port, start, count. No restore_command: the
 * WAL needed is inside the backup.
 */
async function restoreAndCount(storage: Storage, entry: BackupEntry): Promise<Record<string, number>> {
  const work = await mkdtemp(join(tmpdir(), 'sbx-bb-restore-'));
  await chmod(work, 0o755);
  const file = join(work, 'backup');
  const dataDir = join(work, 'data');
  let cluster: LocalCluster | undefined;
  try {
    await pipeline(await storage.get(entry.key), createWriteStream(file, { mode: 0o644 }));
    await mkdir(dataDir, { mode: 0o700 });
    if (isRoot()) {
      const { uid, gid } = await serverUserIds();
      await chown(dataDir, uid, gid);
    }
    const unpack = entry.compression === 'zstd' ? 'zstd -d -q -c "$1" | tar -x -f - -C "$2"' : 'tar -x -f "$1" -C "$2"';
    const unpacked = await runAsServerUser('sh', ['-c', `set -e; ${unpack}`, 'sh', file, dataDir]);
    expect(unpacked.stderr).toBe('');
    expect(unpacked.code).toBe(0);
    // The copy carries the source's port and socket folder (LocalCluster's strongbox.conf): give it its own.
    await writeOwned(join(dataDir, 'strongbox.conf'), `listen_addresses = '127.0.0.1'\nunix_socket_directories = '${dataDir}'\nfsync = 'off'\nport = '${await freePort()}'\n`);
    cluster = await LocalCluster.open(dataDir, { superuserPassword: TEST_PASSWORD });
    await cluster.start();
    return rowCounts(cluster.connection('app'));
  } finally {
    await cluster?.stop('immediate').catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/** The backup that failed: the newest entry of the database. */
async function newest(): Promise<BackupEntry> {
  const [entry] = await stack.catalog.listByDatabase('app', { limit: 1, kind: 'base' });
  return entry!;
}

/** FAILED with reason and code, a BACKUP_FAILED alert, nothing stored, the lock free. */
async function expectCleanFailure(code: string, alertsBefore: number): Promise<BackupEntry> {
  const entry = await newest();
  expect(entry).toMatchObject({ state: 'FAILED', errorCode: code, kind: 'base' });
  expect(entry.reason).toBeTruthy();
  expect(await keysUnder(stack.storage, `base/manual/app/${entry.id}/`)).toEqual([]);
  expect(await readdir(join(stack.storage.bucket, '.tmp')).catch(() => [])).toEqual([]);
  expect(stack.alerts.published.slice(alertsBefore)).toEqual([expect.objectContaining({ type: 'BACKUP_FAILED', backupId: entry.id, code, database: 'app' })]);
  expect(await stack.catalog.getLock(lockName('base', 'app'))).toBeUndefined();
  return entry;
}

/** Waits until the server has no WAL sender left (a killed backup's connection is gone). */
async function expectNoWalSender(): Promise<void> {
  for (let i = 0; i < 50 && psql(stack.conn, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'`) !== '0'; i++) await new Promise((r) => setTimeout(r, 100));
  expect(psql(stack.conn, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'`)).toBe('0');
}

beforeAll(async () => {
  [stack, s3] = await Promise.all([startStack({ storage: 'folder' }), startStack({ storage: 's3' })]);
  // About 4 MB of barely compressible text, so that the stream spans many chunks.
  const bulk = `CREATE TABLE bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) AS payload FROM generate_series(1, 40000) g`;
  psql(stack.conn, bulk);
  psql(s3.conn, bulk);
  psql(stack.conn, `CREATE ROLE repl LOGIN REPLICATION PASSWORD 'repl-pw'; CREATE ROLE norepl LOGIN PASSWORD 'norepl-pw'`);
}, 60_000);
afterAll(async () => Promise.all([stack?.stop(), s3?.stop()]));

describe('base backup into the repository folder', () => {
  let verified: BackupEntry;
  let countsAtBackup: Record<string, number>;

  it('streams pg_basebackup through zstd into storage, records its WAL range, writes the manifest last, ends VERIFIED', async () => {
    countsAtBackup = rowCounts(stack.conn);
    const systemId = psql(stack.conn, 'SELECT system_identifier FROM pg_control_system()');

    verified = await runBaseBackup(deps(), request({ tier: 'daily' }));

    expect(verified).toMatchObject({ state: 'VERIFIED', kind: 'base', tier: 'daily', scope: 'full', compression: 'zstd' });
    expect(verified.key).toBe(`base/daily/app/${verified.id}/dump.zst`);
    expect(verified.id).toMatch(/-b-/);
    expect((await keysUnder(stack.storage, `base/daily/app/${verified.id}/`)).sort()).toEqual([verified.key, verified.manifestKey].sort());
    const base = verified.base!;
    expect(base).toMatchObject({ timeline: 1, stopTimeline: 1, systemId, pgVersion: 15, walIncluded: true });
    expect(base.label).toContain(`LABEL: strongbox-${verified.id}`);
    expect(base.label).toContain(`START WAL LOCATION: ${base.startLsn} (file ${base.walSegments.first})`);
    const lsn = (text: string) => BigInt(`0x${text.split('/')[0]}`) * 2n ** 32n + BigInt(`0x${text.split('/')[1]}`);
    expect(lsn(base.stopLsn) > lsn(base.startLsn)).toBe(true);
    expect(lsn(psql(stack.conn, 'SELECT pg_current_wal_lsn()')) >= lsn(base.stopLsn)).toBe(true);
    expect(base.walSegments.last >= base.walSegments.first).toBe(true);

    const manifest = parseManifest((await stack.storage.getBytes(verified.manifestKey)).toString(), verified.manifestKey);
    expect(manifest).toMatchObject({ kind: 'base', compression: 'zstd', base, objects: { dump: { key: verified.key, sha256: verified.sha256, bytes: verified.bytes } } });
    expect(manifest.tools.pgBasebackup).toMatch(/^15\./);
    expect(manifest.source.systemIdentifier).toBe(systemId);
    expect(stack.log.lines.some((line) => line.message === 'backup verified' && line.attributes?.backupId === verified.id)).toBe(true);
    expect(stack.log.lines.find((line) => line.message === 'base backup uploaded' && line.attributes?.backupId === verified.id)?.attributes).toMatchObject({ startLsn: base.startLsn, stopLsn: base.stopLsn });
    expect(await stack.catalog.getLock(lockName('base', 'app'))).toBeUndefined();
  });

  it('restores: unpacked into a new data folder and started with no archive, it holds the rows of its moment', async () => {
    psql(stack.conn, `INSERT INTO bulk VALUES (-1, 'after the backup')`);

    const restored = await restoreAndCount(stack.storage, verified);

    expect(restored).toEqual(countsAtBackup);
    expect(restored['public.bulk']).toBe(40_000);
    expect(rowCounts(stack.conn)['public.bulk']).toBe(40_001);
  }, 60_000);

  it('stores a plain tar with `none`, as a role that has REPLICATION without being superuser', async () => {
    const entry = await runBaseBackup(deps(), request({ compression: 'none', connection: { ...stack.conn, user: 'repl', password: 'repl-pw' } }));

    expect(entry).toMatchObject({ state: 'VERIFIED', compression: 'none', base: { walIncluded: true } });
    expect(entry.key).toBe(`base/manual/app/${entry.id}/dump`);
    const listing = spawnSync('tar', ['-t'], { input: await stack.storage.getBytes(entry.key), maxBuffer: 1 << 30 });
    const names = listing.stdout.toString().split('\n');
    expect(names[0]).toBe('backup_label');
    expect(names).toContain(`pg_wal/${entry.base!.walSegments.last}`);
    expect(names).toContain('backup_manifest');
  });

  it('a catalog rebuilt from storage alone knows the base backup with its WAL range, VERIFIED', async () => {
    const catalog = await stack.freshCatalog('base-rebuild');

    await rebuildCatalog({ ...stack.deps, catalog }, { verify: true });

    expect(await catalog.get(verified.id)).toMatchObject({ state: 'VERIFIED', kind: 'base', key: verified.key, compression: 'zstd', base: verified.base });
  });

  it('a logical and a base backup of one database run at once (separate locks)', async () => {
    const [logical, base] = await Promise.all([
      runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'zstd', includeRolePasswords: false, runner: 'test' }),
      runBaseBackup(deps(), request()),
    ]);
    expect([logical.state, base.state]).toEqual(['VERIFIED', 'VERIFIED']);
    expect([logical.kind, base.kind]).toEqual(['logical', 'base']);
  });

  it('a second base backup while one runs is refused with BACKUP_ALREADY_RUNNING', async () => {
    const outcomes = await Promise.allSettled([runBaseBackup(deps(), request()), runBaseBackup(deps(), request())]);
    const states = outcomes.map((result) => (result.status === 'fulfilled' ? result.value.state : (result.reason as { code: string }).code));
    expect(states.sort()).toEqual(['BACKUP_ALREADY_RUNNING', 'VERIFIED']);
  });
});

describe('a base backup that cannot complete leaves nothing that looks complete', () => {
  it('pg_basebackup killed mid-stream: DUMP_FAILED, FAILED, no manifest, no object', async () => {
    let killed = '';
    const killing: BaseBackupDeps['tools'] = {
      ...pgBaseBackupTools,
      spawnBaseBackup(conn, options) {
        const tool = pgBaseBackupTools.spawnBaseBackup(conn, options);
        tool.stdout.once('data', () => {
          // Our own child only: the streaming pg_basebackup this process just started.
          const children = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).stdout;
          const pids = children.split('\n').filter((line) => /pg_basebackup -D - -Ft/.test(line)).map((line) => line.trim().split(/\s+/)[0]);
          killed = pids.join(',');
          if (pids.length === 1) process.kill(Number(pids[0]), 'SIGKILL');
        });
        return tool;
      },
    };
    const before = stack.alerts.published.length;

    await expect(runBaseBackup(deps(stack, { tools: killing }), request())).rejects.toMatchObject({ code: 'DUMP_FAILED', message: expect.stringContaining('pg_basebackup was killed by SIGKILL') });
    expect(killed).toMatch(/^\d+$/);

    await expectCleanFailure('DUMP_FAILED', before);
    await expectNoWalSender();
  });

  it('a role without REPLICATION: REPLICATION_NOT_PERMITTED with the ALTER ROLE and pg_hba hint, before pg_basebackup runs', async () => {
    const before = stack.alerts.published.length;
    const norepl = { ...stack.conn, user: 'norepl', password: 'norepl-pw' };

    await expect(runBaseBackup(deps(), request({ connection: norepl }))).rejects.toMatchObject({
      code: 'REPLICATION_NOT_PERMITTED',
      hint: expect.stringMatching(/ALTER ROLE "norepl" REPLICATION.*host replication norepl/),
    });

    const entry = await expectCleanFailure('REPLICATION_NOT_PERMITTED', before);
    expect(entry.reason).not.toContain('norepl-pw');
  });

  it('pg_basebackup\'s own refusal of the role is explained the same way', async () => {
    // The server-side check alone: skip the up-front one.
    const unchecked: BaseBackupDeps['tools'] = { ...pgBaseBackupTools, inspect: () => pgBaseBackupTools.inspect(stack.conn) };
    const before = stack.alerts.published.length;

    await expect(runBaseBackup(deps(stack, { tools: unchecked }), request({ connection: { ...stack.conn, user: 'norepl', password: 'norepl-pw' } }))).rejects.toMatchObject({
      code: 'REPLICATION_NOT_PERMITTED',
      message: expect.stringContaining('must be superuser or replication role'),
    });
    await expectCleanFailure('REPLICATION_NOT_PERMITTED', before);
  });

  it('storage failing mid-upload: STORAGE_FAILED, no object, no temporary file, pg_basebackup stopped', async () => {
    const before = stack.alerts.published.length;

    await expect(runBaseBackup(deps(stack, { storage: failingMidUpload(stack.storage, 200_000, 'disk vanished') }), request())).rejects.toThrow(/disk vanished/);

    await expectCleanFailure('STORAGE_FAILED', before);
    await expectNoWalSender();
  });

  it('a tablespace besides pg_default/pg_global: BASE_BACKUP_TABLESPACES, with a hint', async () => {
    const location = await mkdtemp(join(tmpdir(), 'sbx-tblspc-'));
    if (isRoot()) {
      const { uid, gid } = await serverUserIds();
      await chown(location, uid, gid);
    }
    psql(stack.conn, `CREATE TABLESPACE extra LOCATION '${location}'`);
    const before = stack.alerts.published.length;
    try {
      await expect(runBaseBackup(deps(), request())).rejects.toMatchObject({ code: 'BASE_BACKUP_TABLESPACES', message: expect.stringContaining('extra'), hint: expect.stringContaining('SET TABLESPACE pg_default') });
      await expectCleanFailure('BASE_BACKUP_TABLESPACES', before);
    } finally {
      psql(stack.conn, 'DROP TABLESPACE extra');
      await rm(location, { recursive: true, force: true });
    }
  });

  it('an uncompressed cluster over 5 TiB: OBJECT_TOO_LARGE with a hint before pg_basebackup runs; zstd is tried', async () => {
    // Prepare: the cluster claims 6 TiB; pg_basebackup must not start for `none`
    let started = 0;
    const huge: BaseBackupDeps['tools'] = {
      ...pgBaseBackupTools,
      inspect: async (conn) => ({ ...(await pgBaseBackupTools.inspect(conn)), clusterSizeBytes: 6 * 1024 ** 4 }),
      spawnBaseBackup(conn, options) {
        started += 1;
        return pgBaseBackupTools.spawnBaseBackup(conn, options);
      },
    };
    const before = stack.alerts.published.length;
    // Act
    const error = await runBaseBackup(deps(stack, { tools: huge }), request({ compression: 'none' })).catch((e: unknown) => e);
    // Assess
    expect(error).toMatchObject({ code: 'OBJECT_TOO_LARGE', message: expect.stringContaining('6.00 TiB'), hint: expect.stringContaining('--compression zstd') });
    expect(started).toBe(0);
    await expectCleanFailure('OBJECT_TOO_LARGE', before);
    // A zstd tar of the same cluster may fit: the size is then only an upper bound, and the backup runs
    const zstd = await runBaseBackup(deps(stack, { tools: huge }), request({ compression: 'zstd' }));
    expect(started).toBe(1);
    expect(zstd.state).toBe('VERIFIED');
  });
});

describe('base backup into S3 (s3rver)', () => {
  it('uploads in parts, ends VERIFIED, and restores', async () => {
    const counts = rowCounts(s3.conn);

    const entry = await runBaseBackup(deps(s3), request({ connection: s3.conn }));

    expect(entry).toMatchObject({ state: 'VERIFIED', kind: 'base', base: { walIncluded: true, timeline: 1 } });
    expect(entry.bytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(await restoreAndCount(s3.storage, entry)).toEqual(counts);
  }, 60_000);
});

describe('through the CLI and the dump task (local mode)', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-bb-cli-'));
    await writeFile(join(dir, 'strongbox.config.json'), JSON.stringify({ databases: [{ name: 'app' }] }));
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      STRONGBOX_HOME: join(dir, 'state'),
      STRONGBOX_CONFIG: join(dir, 'strongbox.config.json'),
      NODE_OPTIONS: '--no-warnings',
      DATABASE_URL: `postgresql://postgres:${TEST_PASSWORD}@127.0.0.1:${stack.conn.port}/app`,
    };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [resolve('dist/cli.js'), ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }

  async function localBaseEntries(): Promise<BackupEntry[]> {
    const context = await openLocalContext({ paths: resolveHome(env, dir), storage: loadConfig(env, dir).config.storage, env, log: stderrLog(false) });
    try {
      return await context.catalog.listByDatabase('app', { kind: 'base' });
    } finally {
      await context.close();
    }
  }

  it('`strongbox backup --type base --json` prints the VERIFIED entry with its WAL range; --table is refused', async () => {
    const result = await runCli(['backup', '--type', 'base', '--tier', 'daily', '--json']);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain(TEST_PASSWORD);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ state: 'VERIFIED', kind: 'base', tier: 'daily', database: 'app', base: { timeline: 1, walIncluded: true } });
    expect(summary.key).toBe(`base/daily/app/${summary.id}/dump.zst`);
    expect(summary.base.startLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

    const refused = await runCli(['backup', '--type', 'base', '--table', 'public.customers', '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('--table') });
    expect((await runCli(['backup', '--type', 'base', '--compression', 'gzip'])).code).toBe(2);
  });

  it('the dump task takes a base backup when STRONGBOX_BACKUP_TYPE=base', async () => {
    const before = (await localBaseEntries()).length;

    const code = await runDumpTask({ env: { ...env, STRONGBOX_DATABASE: 'app', STRONGBOX_TIER: 'weekly', STRONGBOX_BACKUP_TYPE: 'base' }, cwd: dir, onStop: () => undefined });

    expect(code).toBe(EXIT.ok);
    const entries = await localBaseEntries();
    expect(entries).toHaveLength(before + 1);
    expect(entries[0]).toMatchObject({ state: 'VERIFIED', kind: 'base', tier: 'weekly', compression: 'zstd', base: { walIncluded: true } });
    expect(await runDumpTask({ env: { ...env, STRONGBOX_DATABASE: 'app', STRONGBOX_BACKUP_TYPE: 'physical' }, cwd: dir, onStop: () => undefined })).toBe(EXIT.badInput);
  });
});
