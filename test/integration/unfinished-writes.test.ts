/**
 * Issue 14 point 4: a backup killed with SIGKILL mid-stream leaves its partial file in the
 * repository folder's `.tmp/` (or its multipart upload in S3), which nothing removed. Real
 * dump tasks (dist/task-dump.js, as `npm start` launches them, with their pg_dump) are
 * killed while their dump streams; the sweep (retention's, a next backup's) then removes
 * exactly what no live writer owns, and never a live backup's write.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { tempName } from '../../shared/adapters/storage/folder-tmp';
import { hasUnfinishedWrites, type UnfinishedWrite } from '../../shared/ports/storage';
import { pgEnv } from '../../shared/domain/connection';
import { backupId, backupKeys } from '../../shared/domain/keys';
import { retentionPolicyFromConfig } from '../../shared/domain/retention';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { resolveHome, writeInstance } from '../../shared/local/home';
import { localProcesses } from '../../shared/local/processes';
import { applyRetention } from '../../shared/usecases/retention';
import { sweepUnfinishedWrites } from '../../shared/usecases/unfinished-writes';
import { S3RVER_CREDENTIALS } from '../support/s3-server';
import { captureLog, keysUnder, startStack, TEST_PASSWORD, type Stack } from '../support/stack';

const TASK = join(process.cwd(), 'dist', 'task-dump.js');
const STALE_MS = 60_000;

describe.each(['folder', 's3'] as const)('unfinished writes of killed backups (%s)', (kind) => {
  let stack: Stack;
  let home: string;
  const tasks: ChildProcess[] = [];

  beforeAll(async () => {
    stack = await startStack({ storage: kind });
    // About 40 MB of barely compressible text: the dump streams for a while (and past S3's first 8 MiB part).
    const sql = 'CREATE TABLE bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) AS payload FROM generate_series(1, 300000) g';
    const result = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env: { ...process.env, ...pgEnv(stack.conn) } });
    if (result.status !== 0) throw new Error(result.stderr.toString());
    // The tasks join this test's catalog as they join a running `npm start`'s.
    home = await mkdtemp(join(tmpdir(), 'sbx-unfinished-'));
    writeInstance(resolveHome({ STRONGBOX_HOME: home }, home), { pid: process.pid, catalogEndpoint: stack.catalogEndpoint, tableName: LOCAL_TABLE, startedAt: new Date().toISOString() });
    const storage = stack.place.type === 'folder' ? stack.place : { type: 's3', bucket: stack.place.bucket, endpoint: stack.place.endpoint, forcePathStyle: true, region: 'us-east-1' };
    await writeFile(join(home, 'strongbox.config.json'), JSON.stringify({ storage, heartbeatSeconds: 1, staleAfterSeconds: STALE_MS / 1000 }));
  }, 180_000);
  afterEach(() => {
    for (const task of tasks.splice(0)) if (task.exitCode === null && task.signalCode === null) process.kill(-task.pid!, 'SIGKILL');
  });
  afterAll(async () => {
    await stack?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** A dump task of `app` for backup `id`, in its own process group (with its pg_dump). */
  function startTask(id: string): ChildProcess {
    const { host, port } = stack.conn;
    const task = spawn(process.execPath, [TASK], {
      cwd: home,
      detached: true,
      stdio: 'ignore',
      env: {
        PATH: process.env.PATH,
        STRONGBOX_HOME: home,
        STRONGBOX_CONFIG: join(home, 'strongbox.config.json'),
        DATABASE_URL: `postgresql://postgres:${TEST_PASSWORD}@${host}:${port}/app`,
        STRONGBOX_DATABASE: 'app',
        STRONGBOX_TIER: 'manual',
        STRONGBOX_BACKUP_ID: id,
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
      },
    });
    tasks.push(task);
    return task;
  }

  function exited(task: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
    if (task.exitCode !== null || task.signalCode !== null) return Promise.resolve({ code: task.exitCode, signal: task.signalCode });
    return new Promise((resolve) => task.once('exit', (code, signal) => resolve({ code, signal })));
  }

  async function unfinished(): Promise<UnfinishedWrite[]> {
    if (!hasUnfinishedWrites(stack.storage)) throw new Error('the storage cannot list unfinished writes');
    const writes: UnfinishedWrite[] = [];
    for await (const write of stack.storage.listUnfinished('')) writes.push(write);
    return writes;
  }

  /** Waits until the write of `key` is in flight (the folder: bytes in its temporary file; S3: its multipart upload begun). */
  async function inFlight(key: string, task: ChildProcess): Promise<UnfinishedWrite> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const write = (await unfinished()).find((w) => w.key === key && (w.bytes === undefined || w.bytes > 0));
      if (write) return write;
      if (task.exitCode !== null || task.signalCode !== null) throw new Error(`the task exited (${task.exitCode ?? task.signalCode}) before its write of ${key} was seen in flight`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for the write of ${key}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Starts a backup task and kills it (and its pg_dump) with SIGKILL while its dump streams; returns its backup's dump key. */
  async function killMidStream(): Promise<{ id: string; key: string }> {
    const id = backupId('logical', new Date(), `killed:${Math.random()}`);
    const key = backupKeys('logical', 'manual', 'app', id, 'gzip').dump;
    const task = startTask(id);
    await inFlight(key, task);
    process.kill(-task.pid!, 'SIGKILL');
    expect(await exited(task)).toEqual({ code: null, signal: 'SIGKILL' });
    return { id, key };
  }

  it('a task killed mid-dump leaves its partial write behind; the retention run removes it', async () => {
    // Prepare: the leak, as the fault matrix saw it
    const killed = await killMidStream();
    const left = (await unfinished()).filter((w) => w.key === killed.key);
    expect(left).toHaveLength(1);
    if (kind === 'folder') expect(left[0]!.bytes).toBeGreaterThan(0);
    expect(await stack.catalog.get(killed.id)).toMatchObject({ state: 'RUNNING' });
    // Act
    const report = await applyRetention({ ...stack.deps, processes: localProcesses, staleAfterMs: STALE_MS }, { policy: retentionPolicyFromConfig(undefined), dryRun: false });
    // Assess: the folder knows the file's writer is dead; on S3 the catalog says the backup's runner is
    const rule = kind === 'folder' ? 'WRITER_GONE' : 'BACKUP_DEAD';
    expect(report.unfinished.discarded).toEqual([expect.objectContaining({ key: killed.key, backupId: killed.id, rule })]);
    expect(await unfinished()).toEqual([]);
    if (stack.place.type === 'folder') expect(await readdir(join(stack.place.path, '.tmp'))).toEqual([]);
    expect(await keysUnder(stack.storage, `logical/manual/app/${killed.id}/`)).toEqual([]);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'unfinished write discarded', attributes: expect.objectContaining({ key: killed.key, rule }) }));
  });

  it("the next backup removes a killed one's partial write; a sweep never touches a live backup's write", async () => {
    // Prepare: a killed backup's leftover, then a live backup of the same database in flight
    const killed = await killMidStream();
    const liveId = backupId('logical', new Date(), `live:${Math.random()}`);
    const liveKey = backupKeys('logical', 'manual', 'app', liveId, 'gzip').dump;
    const live = startTask(liveId);
    const liveWrite = await inFlight(liveKey, live);
    // Its own sweep, before it began writing, removed the killed backup's write
    expect((await unfinished()).map((w) => w.key)).toEqual([liveKey]);
    // Frozen mid-stream (task and pg_dump): alive, heart-beating within the bound, its write open
    process.kill(-live.pid!, 'SIGSTOP');
    // Act
    let sweep;
    try {
      sweep = await sweepUnfinishedWrites({ ...stack.deps, processes: localProcesses }, { staleAfterMs: STALE_MS });
    } finally {
      process.kill(-live.pid!, 'SIGCONT');
    }
    // Assess: kept, and the live backup still completes whole
    expect(sweep.discarded).toEqual([]);
    expect(sweep.kept).toBe(1);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ message: 'unfinished write kept', attributes: expect.objectContaining({ key: liveKey, rule: 'BACKUP_LIVE' }) }));
    expect((await unfinished()).map((w) => w.ref)).toEqual([liveWrite.ref]);
    expect(await exited(live)).toEqual({ code: 0, signal: null });
    expect(await stack.catalog.get(liveId)).toMatchObject({ state: 'VERIFIED' });
    expect(await stack.catalog.get(killed.id)).toMatchObject({ state: 'FAILED', errorCode: 'RUNNER_GONE' });
    expect(await keysUnder(stack.storage, `logical/manual/app/${killed.id}/`)).toEqual([]);
    expect(await unfinished()).toEqual([]);
  });
});

describe('the sweep of a repository folder: dry runs, scope and writes no backup owns', () => {
  let root: string;
  let dynalite: Awaited<ReturnType<typeof startDynalite>>;
  let catalog: Catalog;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sbx-unfinished-folder-'));
    dynalite = await startDynalite({});
    await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
    catalog = localCatalog(dynalite.endpoint);
  });
  afterAll(async () => {
    await dynalite?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The pid of a process that has exited (and was reaped). */
  function deadPid(): number {
    const child = spawnSync(process.execPath, ['-e', '']);
    return child.pid;
  }

  it('a dry run reports and removes nothing; WAL writes of a dead npm start go only with the whole folder in scope; a quiet unnamed file goes once past the bound', async () => {
    // Prepare: what a killed `npm start` leaves: a WAL segment's temporary file (its writer dead),
    // a file named before names carried anything, old; and one this process is writing now
    const tmp = join(root, '.tmp');
    await mkdir(tmp, { recursive: true });
    const host = localProcesses.hostname;
    const walFile = tempName('wal/app/000000010000000000000003.zst', { pid: deadPid(), host });
    const legacy = '3f1c2a9e-0000-4000-8000-000000000000.part';
    const mine = tempName('wal/app/000000010000000000000004.zst', { pid: process.pid, host });
    for (const name of [walFile, legacy, mine]) await writeFile(join(tmp, name), 'partial bytes');
    const longAgo = new Date(Date.now() - 2 * STALE_MS);
    await utimes(join(tmp, legacy), longAgo, longAgo);
    const log = captureLog();
    const deps = { storage: new FolderStorage(root), catalog, log, clock: () => new Date(), processes: localProcesses };
    // Act
    const backupsOnly = await sweepUnfinishedWrites(deps, { staleAfterMs: STALE_MS });
    const dryRun = await sweepUnfinishedWrites(deps, { staleAfterMs: STALE_MS, prefixes: [''], dryRun: true });
    const afterDryRun = (await readdir(tmp)).sort();
    const everything = await sweepUnfinishedWrites(deps, { staleAfterMs: STALE_MS, prefixes: [''] });
    // Assess
    expect(backupsOnly).toEqual({ discarded: [], kept: 0, bytes: 0, failed: 0 });
    expect(dryRun.discarded.map((write) => write.rule).sort()).toEqual(['QUIET', 'WRITER_GONE']);
    expect(afterDryRun).toEqual([walFile, legacy, mine].sort());
    expect(everything.discarded).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'wal/app/000000010000000000000003.zst', rule: 'WRITER_GONE', bytes: 13 }),
        expect.objectContaining({ rule: 'QUIET', bytes: 13 }),
      ]),
    );
    expect(everything).toMatchObject({ kept: 1, bytes: 26, failed: 0 });
    expect(await readdir(tmp)).toEqual([mine]);
    expect(log.lines.filter((line) => line.message === 'unfinished write kept').map((line) => line.attributes?.rule)).toEqual(['RECENT', 'RECENT']);
  });
});
