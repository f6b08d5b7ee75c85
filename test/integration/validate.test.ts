import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pgRestoreTools } from '../../shared/adapters/postgres/restore-tools';
import type { BackupEntry } from '../../shared/domain/backup';
import { parseManifest } from '../../shared/domain/manifest';
import { DumpError, InterruptedError, ObjectInColdStorageError, StrongboxError } from '../../shared/errors';
import { openSnapshot } from '../../shared/adapters/postgres/snapshot';
import { pgValidationDeps } from '../../shared/runtime/validate-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import type { RestoreTools } from '../../shared/ports/restore';
import { runValidation, type ValidationDeps, type ValidationRequest } from '../../shared/usecases/validate';
import { boundStorage } from '../support/faults';
import { databaseNames } from '../support/restore';
import { startStack, type Stack } from '../support/stack';
import { flipByte, processesOn, recordingClusters } from '../support/validate';

let stack: Stack;
let tmp: string;
let good: BackupEntry;
let clusters: ReturnType<typeof recordingClusters>;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 200 });
  // The throwaway server runs as the postgres OS user when tests run as root: it must traverse this folder.
  tmp = await mkdtemp(join(tmpdir(), 'sbx-validate-tmp-'));
  await chmod(tmp, 0o755);
  good = await backup();
});
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  clusters = recordingClusters();
  stack.log.lines.length = 0;
});

function backup(): Promise<BackupEntry> {
  return runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
}

function deps(extra: Partial<ValidationDeps> = {}): ValidationDeps {
  return { ...stack.deps, ...pgValidationDeps, startCluster: clusters.start, tmpDir: tmp, ...extra };
}

function validate(request: Partial<ValidationRequest> = {}, extra: Partial<ValidationDeps> = {}) {
  return runValidation(deps(extra), { backupId: good.id, jobs: 1, ...request });
}

async function failure(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected the drill to throw');
}

/** A restoreTools whose restoreArchive runs `during` (with the server up) before the real one. */
function toolsDuring(during: () => Promise<void>): RestoreTools {
  return { ...pgRestoreTools, async restoreArchive(...args) {
    await during();
    return pgRestoreTools.restoreArchive(...args);
  } };
}

/** The one throwaway server of the test: its postmaster ran during the drill and is gone now, with its folder. */
async function expectThrownAway(runningDuring: number[]): Promise<void> {
  expect(clusters.started).toHaveLength(1);
  const { dataDir, superuserPassword, fastTestMode } = clusters.started[0]!;
  expect(dataDir.startsWith(join(tmp, 'strongbox-validate-'))).toBe(true);
  expect(superuserPassword).toMatch(/^[\w-]{32}$/);
  expect(fastTestMode).toBe(true);
  expect(runningDuring).toHaveLength(1);
  expect(await processesOn(dataDir)).toEqual([]);
  expect(await readdir(tmp)).toEqual([]);
}

describe('strongbox validate: the restore drill on a throwaway PostgreSQL', () => {
  it('a good backup: ok with its duration, lastValidation recorded, still VERIFIED, the server gone', async () => {
    let running: number[] = [];
    const manifest = parseManifest((await stack.storage.getBytes(good.manifestKey)).toString(), good.manifestKey);
    const progress = new Set<string>();

    const report = await validate({ onProgress: ({ phase }) => progress.add(phase) }, { restoreTools: toolsDuring(async () => void (running = await processesOn(clusters.started[0]!.dataDir))) });

    expect(report).toMatchObject({ backupId: good.id, database: 'app', ok: true, scratch: 'a throwaway PostgreSQL', warnings: [] });
    expect(report.tables).toBe(manifest.tables.length);
    expect(report.rows).toBe(manifest.tables.reduce((sum, t) => sum + t.rows, 0));
    expect(report.seconds).toBeGreaterThan(0);
    expect(report.split.restore).toBeGreaterThan(0);
    expect(report.totalSeconds).toBeGreaterThan(report.seconds);
    // The RTO counts the scratch server's start (initdb and start) and every restore phase, not the teardown.
    const timed = (name: string) => report.steps.find((s) => s.name === name)!.seconds;
    expect(report.split.scratch).toBe(timed('scratch'));
    expect(report.split.scratch).toBeGreaterThan(0);
    const beforeTeardown = report.steps.filter((s) => s.name !== 'teardown').reduce((sum, s) => sum + s.seconds, 0);
    expect(report.seconds).toBeGreaterThanOrEqual(Math.floor(beforeTeardown * 100) / 100);
    expect(report.seconds).toBeLessThanOrEqual(report.totalSeconds - timed('teardown') + 0.01);
    expect(report.steps.map((s) => s.name)).toEqual(['scratch', 'plan', 'cleanup', 'download', 'check', 'restore', 'verify', 'teardown']);
    expect(progress).toEqual(new Set(['scratch', 'plan', 'cleanup', 'download', 'check', 'restore', 'verify', 'teardown']));
    const entry = await stack.catalog.get(good.id);
    expect(entry).toMatchObject({ state: 'VERIFIED', lastValidation: { at: report.at, ok: true, seconds: report.seconds } });
    expect(entry?.lastValidation?.reason).toBeUndefined();
    await expectThrownAway(running);
    expect(stack.alerts.published.filter((a) => a.type === 'VALIDATION_FAILED')).toEqual([]);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'validation passed', attributes: expect.objectContaining({ backupId: good.id, seconds: report.seconds }) }));
    expect(JSON.stringify(stack.log.lines)).not.toContain(clusters.started[0]!.superuserPassword);
  });

  it('tables whose manifest counts are estimates (over the exact-count size): present, rows not compared, said in the report', async () => {
    // Every table over a 0-byte limit: the manifest holds estimates, marked, without checksums.
    const estimated = await runLogicalBackup(
      { ...stack.deps, tools: { ...stack.deps.tools, openSnapshot: (conn, options) => openSnapshot(conn, { ...options, exactLimitBytes: 0 }) } },
      { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test' },
    );
    const manifest = parseManifest((await stack.storage.getBytes(estimated.manifestKey)).toString(), estimated.manifestKey);
    expect(manifest.tables.length).toBeGreaterThan(0);
    expect(manifest.tables.every((t) => t.estimate === true && t.checksum === undefined)).toBe(true);
    const report = await validate({ backupId: estimated.id });
    expect(report.reason).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.estimated).toHaveLength(manifest.tables.length);
    // Out of the way of `latest` in the tests below.
    await stack.catalog.transition(estimated.id, 'FAILED', { reason: 'set aside by the test' });
  });

  it('pg_restore failing midway: ok=false, the server still destroyed, the backup still VERIFIED', async () => {
    let running: number[] = [];
    const alerts = stack.alerts.published.length;
    const failing: RestoreTools = { ...pgRestoreTools, async restoreArchive(...args) {
      running = await processesOn(clusters.started[0]!.dataDir);
      await pgRestoreTools.restoreArchive(...args);
      throw new DumpError('pg_restore was killed by SIGKILL', 'run it again');
    } };

    const report = await validate({}, { restoreTools: failing });

    expect(report).toMatchObject({ ok: false, tables: null, rows: null, code: 'DUMP_FAILED', reason: 'DUMP_FAILED during restore: pg_restore was killed by SIGKILL', hint: 'run it again' });
    expect(report.seconds).toBeGreaterThan(0);
    expect(await stack.catalog.get(good.id)).toMatchObject({ state: 'VERIFIED', lastValidation: { ok: false, seconds: report.seconds, reason: report.reason } });
    expect(stack.alerts.published.slice(alerts)).toEqual([
      expect.objectContaining({ type: 'VALIDATION_FAILED', severity: 'SEV2', backupId: good.id, database: 'app', code: 'DUMP_FAILED', hint: 'run it again', message: expect.stringContaining('failed during restore') }),
    ]);
    await expectThrownAway(running);
  });

  it('SIGINT during the restore: INTERRUPTED after the server is destroyed, nothing recorded, no alert', async () => {
    const abort = new AbortController();
    let running: number[] = [];
    const before = (await stack.catalog.get(good.id))?.lastValidation;
    const alerts = stack.alerts.published.length;
    const tools = toolsDuring(async () => {
      running = await processesOn(clusters.started[0]!.dataDir);
      abort.abort(new InterruptedError('SIGINT'));
    });

    const error = await failure(validate({ signal: abort.signal }, { restoreTools: tools }));

    expect(error).toMatchObject({ code: 'INTERRUPTED', message: 'stopped by SIGINT' });
    expect((await stack.catalog.get(good.id))?.lastValidation).toEqual(before);
    expect(stack.alerts.published.length).toBe(alerts);
    await expectThrownAway(running);
  });
});

describe('strongbox validate: a backup in cold storage', () => {
  it('starts its retrieval and postpones: nothing recorded, no alert, the scratch thrown away', async () => {
    const before = (await stack.catalog.get(good.id))?.lastValidation;
    const alerts = stack.alerts.published.length;
    const requested: string[] = [];
    let running: number[] = [];
    const storage = Object.assign(boundStorage(stack.storage), {
      // Reads go through get (an S3-like storage): the folder's hard links would bypass it.
      linkTo: undefined,
      get: async (key: string) => {
        if (key === good.key) {
          running = await processesOn(clusters.started[0]!.dataDir);
          throw new ObjectInColdStorageError(key, 'DEEP_ARCHIVE');
        }
        return stack.storage.get(key);
      },
      startRetrieval: async (key: string) => (requested.push(key), { state: 'started' as const, storageClass: 'DEEP_ARCHIVE' }),
    });

    const error = await failure(validate({}, { storage }));

    expect(error).toMatchObject({ code: 'BACKUP_IN_COLD_STORAGE', message: expect.stringContaining('up to 12 hours') });
    expect(requested).toEqual([good.key]);
    expect((await stack.catalog.get(good.id))?.lastValidation).toEqual(before);
    expect(stack.alerts.published.length).toBe(alerts);
    await expectThrownAway(running);
  });
});

describe('strongbox validate: refusals, a damaged backup, a configured scratch server', () => {
  it('latest with no VERIFIED full backup of the database: BACKUP_NOT_FOUND, no server started', async () => {
    const error = await failure(validate({ backupId: 'latest', database: 'nobody' }));

    expect(error).toMatchObject({ code: 'BACKUP_NOT_FOUND', message: 'no VERIFIED full logical backup of database "nobody" in the catalog to validate (it has 0 logical backups of database "nobody")' });
    expect(error.hint).toContain('strongbox backup --database nobody');
    expect(clusters.started).toEqual([]);
    expect((await failure(validate({ backupId: 'not-an-id' }))).code).toBe('INPUT_INVALID');
  });

  it('an explicit FAILED id is refused; latest skips it; a server that cannot start fails the drill, recording nothing', async () => {
    const failed = await stack.catalog.transition((await backup()).id, 'FAILED', { reason: 'marked by the test' });
    const refused = await failure(validate({ backupId: failed.id }));
    expect(refused).toMatchObject({ code: 'INPUT_INVALID', message: `backup ${failed.id} is FAILED, not VERIFIED (marked by the test)`, hint: expect.stringContaining('validate `latest`') });
    const before = (await stack.catalog.get(good.id))?.lastValidation;
    const noServer = async () => {
      throw new StrongboxError('LOCAL_CLUSTER_FAILED', 'initdb was not found', 'install the server');
    };

    const error = await failure(validate({ backupId: 'latest', database: 'app' }, { startCluster: noServer }));

    expect(error).toMatchObject({ code: 'LOCAL_CLUSTER_FAILED', message: 'initdb was not found' });
    expect(stack.alerts.published.at(-1)).toMatchObject({ type: 'VALIDATION_FAILED', severity: 'SEV2', backupId: good.id, code: 'LOCAL_CLUSTER_FAILED', message: expect.stringContaining('could not run') });
    expect((await stack.catalog.get(good.id))?.lastValidation).toEqual(before);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a flipped byte in the stored dump: refused before restoring, lastValidation ok=false, VALIDATION_FAILED alert', async () => {
    // On the scratch server (quicker than a throwaway one): the outcome does not depend on where.
    const damaged = await backup();
    await flipByte(stack.rawStorage(), damaged.key);
    const alerts = stack.alerts.published.length;
    const names = await databaseNames(stack.conn);

    const report = await validate({ backupId: damaged.id, scratch: stack.pg.conn });

    expect(report).toMatchObject({ backupId: damaged.id, ok: false, tables: null, code: 'CHECKSUM_MISMATCH', reason: expect.stringMatching(new RegExp(`^CHECKSUM_MISMATCH during download: backup ${damaged.id} is damaged: object .* has SHA-256 `)) });
    expect(report.hint).toBe('the stored copy is damaged: take a new backup now and keep this one for investigation');
    expect(report.steps.map((s) => s.name)).toEqual(['scratch', 'plan', 'cleanup', 'download', 'teardown']);
    // The restore marks the stored bytes FAILED; the drill records its own result beside the state.
    expect(await stack.catalog.get(damaged.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH', lastValidation: { ok: false, seconds: report.seconds, reason: report.reason } });
    const published = stack.alerts.published.slice(alerts);
    expect(published.map((a) => a.type)).toEqual(['CHECKSUM_MISMATCH', 'VALIDATION_FAILED']);
    expect(published[1]).toMatchObject({ severity: 'SEV2', backupId: damaged.id, database: 'app', code: 'CHECKSUM_MISMATCH', hint: report.hint, message: expect.stringContaining('failed during download') });
    expect(await databaseNames(stack.conn)).toEqual(names);
    expect(clusters.started).toEqual([]);
  });

  it('a configured scratch server: restores into <db>_strongbox_drill there and drops it', async () => {
    const scratch = stack.pg.cluster.connection('postgres');
    await stack.pg.cluster.createDatabase('app_strongbox_drill'); // a leftover of a killed drill
    const before = (await databaseNames(scratch)).filter((n) => n !== 'app_strongbox_drill');

    const report = await validate({ scratch });

    expect(report).toMatchObject({ ok: true, scratch: expect.stringMatching(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/app_strongbox_drill$/) });
    expect(await databaseNames(scratch)).toEqual(before);
    expect(clusters.started).toEqual([]);
    expect((await stack.catalog.get(good.id))?.lastValidation).toMatchObject({ ok: true, seconds: report.seconds });
  });
});
