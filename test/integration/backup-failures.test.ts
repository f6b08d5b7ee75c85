import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../../shared/ports/storage';
import { pgEnv } from '../../shared/domain/connection';
import type { BackupEntry } from '../../shared/domain/backup';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { runLogicalBackup, type BackupDeps, type BackupRequest } from '../../shared/usecases/backup';
import { localRunner } from '../../shared/domain/backup-lock';
import type { StrongboxError } from '../../shared/errors';
import { localProcesses } from '../../shared/local/processes';
import { lockName } from '../../shared/usecases/backup-lock';
import { failStaleBackups } from '../../shared/usecases/watchdog';
import { failingMidUpload } from '../support/faults';
import { keysUnder, startStack, type Stack } from '../support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder' });
  // About 2 MB of barely compressible text, so that a dump spans many chunks.
  const sql = `CREATE TABLE bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) AS payload FROM generate_series(1, 20000) g`;
  const result = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env: { ...process.env, ...pgEnv(stack.conn) } });
  if (result.status !== 0) throw new Error(result.stderr.toString());
});
afterAll(async () => stack?.stop());

function request(overrides: Partial<BackupRequest> = {}): BackupRequest {
  return { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test', ...overrides };
}

/** A RUNNING backup of `app` written by `runner`, last heart-beating at `heartbeat`, holding the logical lock. */
async function holdLock(id: string, runner: string, heartbeat: Date): Promise<BackupEntry> {
  const entry: BackupEntry = {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'manual',
    scope: 'full',
    state: 'RUNNING',
    key: `logical/manual/app/${id}/dump`,
    manifestKey: `logical/manual/app/${id}/manifest.json`,
    compression: 'gzip',
    startedAt: new Date(heartbeat.getTime() - 60_000).toISOString(),
    heartbeatAt: heartbeat.toISOString(),
    runner,
  };
  await stack.catalog.create(entry);
  expect(await stack.catalog.acquireLock(lockName('logical', 'app'), id, entry.startedAt)).toBe(true);
  return entry;
}

/** Cleanup: the holder FAILED and its lock free, for the next test. */
async function letGo(holder: BackupEntry): Promise<void> {
  await stack.catalog.transition(holder.id, 'FAILED', { reason: 'test cleanup' });
  await stack.catalog.releaseLock(lockName('logical', 'app'), holder.id);
}

/** The pid of a process that has exited (and was reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  expect(child.status).toBe(0);
  return child.pid;
}

/** The backup that failed: the newest entry of the database. */
async function newest(): Promise<BackupEntry> {
  const [entry] = await stack.catalog.listByDatabase('app', { limit: 1 });
  return entry!;
}

/** Asserts the common aftermath of a failed backup: FAILED with reason, alert, nothing stored, lock free. */
async function expectCleanFailure(code: string, alertsBefore: number, storage: Storage = stack.storage): Promise<BackupEntry> {
  const entry = await newest();
  expect(entry).toMatchObject({ state: 'FAILED', errorCode: code });
  expect(entry.reason).toBeTruthy();
  expect(await keysUnder(storage, `logical/manual/app/${entry.id}/`)).toEqual([]);
  expect(stack.alerts.published.slice(alertsBefore)).toEqual([expect.objectContaining({ type: 'BACKUP_FAILED', backupId: entry.id, code, database: 'app' })]);
  expect(await stack.catalog.getLock(lockName('logical', 'app'))).toBeUndefined();
  return entry;
}

async function tmpLeftovers(): Promise<string[]> {
  return readdir(join(stack.storage.bucket, '.tmp')).catch(() => []);
}

describe('a backup that cannot complete leaves nothing that looks complete', () => {
  it('unreachable database: DB_UNREACHABLE, FAILED with the reason, an alert', async () => {
    const before = stack.alerts.published.length;
    await expect(runLogicalBackup(stack.deps, request({ connection: { ...stack.conn, port: 1 } }))).rejects.toMatchObject({ code: 'DB_UNREACHABLE' });
    await expectCleanFailure('DB_UNREACHABLE', before);
  });

  it('bad credentials: DB_AUTH_FAILED', async () => {
    const before = stack.alerts.published.length;
    await expect(runLogicalBackup(stack.deps, request({ connection: { ...stack.conn, password: 'wrong' } }))).rejects.toMatchObject({ code: 'DB_AUTH_FAILED' });
    const entry = await expectCleanFailure('DB_AUTH_FAILED', before);
    expect(entry.reason).not.toContain('wrong');
  });

  it('pg_dump killed mid-stream: DUMP_FAILED, the partial dump is not kept', async () => {
    const killing: BackupDeps['tools'] = {
      ...pgDumpTools,
      spawnPgDump(conn, options) {
        const tool = pgDumpTools.spawnPgDump(conn, options);
        tool.stdout.once('data', () => tool.kill('SIGKILL'));
        return tool;
      },
    };
    const before = stack.alerts.published.length;
    await expect(runLogicalBackup({ ...stack.deps, tools: killing }, request())).rejects.toMatchObject({ code: 'DUMP_FAILED' });
    await expectCleanFailure('DUMP_FAILED', before);
    expect(await tmpLeftovers()).toEqual([]);
  });

  it('storage failing mid-upload: STORAGE_FAILED, no object, no temporary file', async () => {
    const failing = failingMidUpload(stack.storage, 100_000, 'disk vanished');
    const before = stack.alerts.published.length;
    await expect(runLogicalBackup({ ...stack.deps, storage: failing }, request())).rejects.toThrow(/disk vanished/);
    await expectCleanFailure('STORAGE_FAILED', before);
    expect(await tmpLeftovers()).toEqual([]);
  });

  it('a second run while one is RUNNING: refused with BACKUP_ALREADY_RUNNING, the first undisturbed', async () => {
    const [first, second] = await Promise.allSettled([runLogicalBackup(stack.deps, request()), runLogicalBackup(stack.deps, request())]);
    const outcomes = [first, second].map((result) => (result.status === 'fulfilled' ? result.value.state : (result.reason as { code: string }).code));
    expect(outcomes.sort()).toEqual(['BACKUP_ALREADY_RUNNING', 'VERIFIED']);
    const entries = await stack.catalog.listByDatabase('app', { limit: 2 });
    const refused = entries.find((entry) => entry.state === 'FAILED')!;
    const done = entries.find((entry) => entry.state === 'VERIFIED')!;
    expect(refused).toMatchObject({ errorCode: 'BACKUP_ALREADY_RUNNING' });
    expect(refused.reason).toContain(done.id);
    expect(await keysUnder(stack.storage, `logical/manual/app/${refused.id}/`)).toEqual([]);
    expect((await keysUnder(stack.storage, `logical/manual/app/${done.id}/`)).length).toBe(3);
    // Refused, not broken: logged, no SEV2 page for it.
    expect(stack.alerts.published.filter((alert) => alert.backupId === refused.id)).toEqual([]);
    expect(stack.log.lines.some((line) => line.level === 'WARN' && line.message.startsWith('backup refused') && line.attributes?.backupId === refused.id)).toBe(true);
  });

  it('a lock held by a live local process: refused, naming the holder, its process and when its lock expires; no alert however often it is tried', async () => {
    const holder = await holdLock('20200104T000000Z-l-live00', localRunner(process.pid, localProcesses.hostname), new Date());
    const before = stack.alerts.published.length;
    const deps = { ...stack.deps, processes: localProcesses };

    const tries = [await runLogicalBackup(deps, request()).catch((error: unknown) => error), await runLogicalBackup(deps, request()).catch((error: unknown) => error)];

    const expiresAt = new Date(Date.parse(holder.heartbeatAt) + 60_000).toISOString();
    for (const refusal of tries) {
      expect(refusal).toMatchObject({ code: 'BACKUP_ALREADY_RUNNING' });
      const { message, hint } = refusal as StrongboxError;
      expect(message).toContain(holder.id);
      expect(message).toContain(`pid ${process.pid} on ${localProcesses.hostname}`);
      expect(message).toContain(`expires at ${expiresAt}`);
      expect(hint).toContain('strongbox backup --database app --force');
    }
    expect(stack.alerts.published.slice(before)).toEqual([]);
    expect((await stack.catalog.get(holder.id))?.state).toBe('RUNNING');
    expect((await stack.catalog.getLock(lockName('logical', 'app')))?.owner).toBe(holder.id);
    await letGo(holder);
  });

  it('a lock held by a dead local process is taken over at once (fresh heartbeat or not), and that backup marked FAILED', async () => {
    const gone = deadPid();
    const holder = await holdLock('20200105T000000Z-l-gone00', localRunner(gone, localProcesses.hostname), new Date());

    const entry = await runLogicalBackup({ ...stack.deps, processes: localProcesses }, request());

    expect(entry.state).toBe('VERIFIED');
    expect(await stack.catalog.get(holder.id)).toMatchObject({ state: 'FAILED', errorCode: 'RUNNER_GONE', reason: expect.stringContaining(`pid ${gone} on ${localProcesses.hostname}`) });
    expect(stack.log.lines.some((line) => line.message.includes('took over the lock') && line.attributes?.backupId === holder.id && line.attributes?.code === 'RUNNER_GONE')).toBe(true);
  });

  it('a dead pid on another host proves nothing: that lock waits for its heartbeat', async () => {
    const holder = await holdLock('20200106T000000Z-l-other0', localRunner(deadPid(), `not-${localProcesses.hostname}`), new Date());

    await expect(runLogicalBackup({ ...stack.deps, processes: localProcesses }, request())).rejects.toMatchObject({ code: 'BACKUP_ALREADY_RUNNING', runningId: holder.id });

    expect((await stack.catalog.get(holder.id))?.state).toBe('RUNNING');
    await letGo(holder);
  });

  it('a lock left by a task that stopped heart-beating is taken over, and that backup marked FAILED', async () => {
    const now = new Date();
    const dead: BackupEntry = {
      id: '20200101T000000Z-l-dead00',
      database: 'app',
      kind: 'logical',
      tier: 'daily',
      scope: 'full',
      state: 'RUNNING',
      key: 'logical/daily/app/20200101T000000Z-l-dead00/dump',
      manifestKey: 'logical/daily/app/20200101T000000Z-l-dead00/manifest.json',
      compression: 'gzip',
      startedAt: new Date(now.getTime() - 3_600_000).toISOString(),
      heartbeatAt: new Date(now.getTime() - 3_000_000).toISOString(),
    };
    await stack.catalog.create(dead);
    expect(await stack.catalog.acquireLock(lockName('logical', 'app'), dead.id, dead.startedAt)).toBe(true);

    const entry = await runLogicalBackup(stack.deps, request());

    expect(entry.state).toBe('VERIFIED');
    expect(await stack.catalog.get(dead.id)).toMatchObject({ state: 'FAILED', errorCode: 'HEARTBEAT_LOST' });
    expect(stack.log.lines.some((line) => line.message.includes('took over the lock') && line.attributes?.backupId === dead.id)).toBe(true);
  });
});

describe('watchdog', () => {
  it('fails RUNNING entries with a stale heartbeat (with an alert) and leaves live ones alone', async () => {
    const now = new Date();
    const base = { database: 'app', kind: 'logical', tier: 'daily', scope: 'full', compression: 'gzip', key: 'k', manifestKey: 'm' } as const;
    await stack.catalog.create({ ...base, id: '20200102T000000Z-l-stale0', state: 'RUNNING', startedAt: '2020-01-02T00:00:00.000Z', heartbeatAt: new Date(now.getTime() - 3_600_000).toISOString() });
    await stack.catalog.create({ ...base, id: '20200103T000000Z-l-alive0', state: 'RUNNING', startedAt: '2020-01-03T00:00:00.000Z', heartbeatAt: now.toISOString() });
    const before = stack.alerts.published.length;

    const failed = await failStaleBackups(stack.deps, 600_000);

    expect(failed.map((entry) => entry.id)).toEqual(['20200102T000000Z-l-stale0']);
    expect(await stack.catalog.get('20200102T000000Z-l-stale0')).toMatchObject({ state: 'FAILED', errorCode: 'HEARTBEAT_LOST' });
    expect((await stack.catalog.get('20200103T000000Z-l-alive0'))?.state).toBe('RUNNING');
    expect(stack.alerts.published.slice(before)).toEqual([expect.objectContaining({ type: 'BACKUP_STALLED', backupId: '20200102T000000Z-l-stale0' })]);
    expect(await failStaleBackups(stack.deps, 600_000)).toEqual([]);
    await stack.catalog.transition('20200103T000000Z-l-alive0', 'FAILED', { reason: 'test cleanup' });
  });
});
