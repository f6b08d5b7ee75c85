import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectClient } from '../../shared/adapters/postgres/client';
import type { PgConnection } from '../../shared/ports/postgres';
import type { BackupEntry } from '../../shared/domain/backup';
import { digestBytes } from '../../shared/domain/hashing-stream';
import { parseManifest, serializeManifest } from '../../shared/domain/manifest';
import { DumpError, type StrongboxError } from '../../shared/errors';
import { runLogicalBackup, type BackupRequest } from '../../shared/usecases/backup';
import { runRestore, type RestoreDeps, type RestoreRequest } from '../../shared/usecases/restore';
import { openRestoreServer } from '../../shared/adapters/postgres/restore-server';
import type { RestoreServer } from '../../shared/ports/restore';
import { pgRestoreTools } from '../../shared/adapters/postgres/restore-tools';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { addRichObjects, databaseNames, fingerprint, sql, type Fingerprint } from '../support/restore';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let deps: RestoreDeps;
let tmp: string;
let original: Fingerprint;
let gzipBackup: BackupEntry;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 300 });
  await addRichObjects(stack.conn);
  tmp = await mkdtemp(join(tmpdir(), 'sbx-restore-tmp-'));
  deps = { ...stack.deps, ...pgRestoreDeps, tmpDir: tmp };
  original = await fingerprint(stack.conn);
  gzipBackup = await backup();
});
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  stack.log.lines.length = 0;
});

function backup(overrides: Partial<BackupRequest> = {}): Promise<BackupEntry> {
  return runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test', ...overrides });
}

function restore(overrides: Partial<RestoreRequest> = {}, extra: Partial<RestoreDeps> = {}) {
  return runRestore({ ...deps, ...extra }, { backupId: 'latest', target: stack.conn, jobs: 1, dropFirst: false, force: false, ...overrides });
}

async function failure(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected the restore to fail');
}

/** Changes the target so that a restore has something to undo. */
async function modify(conn: PgConnection): Promise<void> {
  await sql(
    conn,
    `DELETE FROM "Billing"."Invoices" WHERE id % 2 = 0; UPDATE inventory."Items" SET "Name" = "Name" || ' changed';
     SELECT nextval('inventory."Item_Seq"'); SELECT lo_unlink(m.oid) FROM pg_largeobject_metadata m; DROP MATERIALIZED VIEW IF EXISTS inventory.item_totals;`,
  );
}

const scratchLeft = async () => (await databaseNames(stack.conn)).filter((name) => name.includes('_restoring_'));
const tmpLeft = () => readdir(tmp);

describe('full logical restore on real PostgreSQL', () => {
  it('round trip: restores every object over a modified target, keeps the old one, ends the sessions on it', async () => {
    await modify(stack.conn);
    const modified = await fingerprint(stack.conn);
    expect(modified).not.toEqual(original);
    const idle = await connectClient(stack.conn);
    idle.on('error', () => undefined);
    const progress: string[] = [];

    const report = await restore({ onProgress: ({ phase }) => progress.push(phase) });

    expect(report).toMatchObject({ backupId: gzipBackup.id, database: 'app', target: expect.stringMatching(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/app$/), droppedLeftovers: [], warnings: [] });
    expect(report.keptAs).toMatch(/^app_before_restore_\d{14}$/);
    const manifest = parseManifest((await stack.storage.getBytes(gzipBackup.manifestKey)).toString(), gzipBackup.manifestKey);
    expect(report.tables).toBe(manifest.tables.length);
    expect(report.rows).toBe(manifest.tables.reduce((sum, t) => sum + t.rows, 0));
    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'download', 'check', 'restore', 'verify', 'swap']);
    expect(report.seconds).toBeGreaterThanOrEqual(report.steps.reduce((sum, s) => sum + s.seconds, 0) - 0.01);
    expect(new Set(progress)).toEqual(new Set(['plan', 'cleanup', 'download', 'check', 'restore', 'verify', 'swap']));

    const restored = await fingerprint(stack.conn);
    expect(restored).toEqual(original);
    expect(restored.sequences['inventory.Item_Seq']).toBe(String(500 + 7 * 119));
    expect(restored.sequences['Sales.invoice_number']).not.toBeNull();
    expect(Object.keys(restored.largeObjects)).toHaveLength(1);
    expect(restored.objects).toEqual(expect.arrayContaining(['v Billing.Open Invoices', 'm inventory.item_totals', 'i inventory.Items_Name_idx', 'p Billing.ledger', 'r Billing.ledger_2026']));
    expect(await fingerprint({ ...stack.conn, database: report.keptAs! })).toEqual(modified);
    await expect(idle.query('SELECT 1')).rejects.toThrow();
    await idle.end().catch(() => undefined);
    expect(await scratchLeft()).toEqual([]);
    expect(await tmpLeft()).toEqual([]);
    expect(stack.log.lines.find((l) => l.message === 'restore finished')?.attributes).toMatchObject({ backupId: gzipBackup.id, keptAs: report.keptAs });
  });

  it('a zstd backup restores with --jobs 2 into a database that does not exist yet (plain rename)', async () => {
    const zstd = await backup({ compression: 'zstd' });
    expect(zstd).toMatchObject({ state: 'VERIFIED', compression: 'zstd' });
    const fresh = { ...stack.conn, database: 'Fresh Copy' };

    const report = await restore({ backupId: zstd.id, target: fresh, database: 'app', jobs: 2 });

    expect(report).toMatchObject({ backupId: zstd.id, keptAs: null });
    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'download', 'check', 'restore', 'verify', 'swap']);
    expect(await fingerprint(fresh)).toEqual(original);
    expect((await databaseNames(stack.conn)).filter((n) => n.startsWith('Fresh Copy'))).toEqual(['Fresh Copy']);
    expect(await tmpLeft()).toEqual([]);
  });

  it('--drop-first drops the target, restores straight into it and keeps nothing', async () => {
    await modify(stack.conn);
    const keptBefore = (await databaseNames(stack.conn)).filter((n) => n.includes('_before_restore_'));

    const report = await restore({ dropFirst: true, jobs: 2 });

    expect(report.keptAs).toBeNull();
    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'download', 'check', 'drop-target', 'restore', 'verify']);
    expect(await fingerprint(stack.conn)).toEqual(original);
    expect((await databaseNames(stack.conn)).filter((n) => n.includes('_before_restore_'))).toEqual(keptBefore);
    expect(await scratchLeft()).toEqual([]);
    expect(stack.log.lines.some((l) => l.level === 'WARN' && /dropped before the restore/.test(l.message))).toBe(true);
  });
});

describe('a restore refuses before touching the target', () => {
  it('a flipped byte in the stored dump: CHECKSUM_MISMATCH, target unchanged, backup marked FAILED with an alert', async () => {
    const damaged = await backup();
    const raw = stack.rawStorage();
    const bytes = await raw.getBytes(damaged.key);
    bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0x01, bytes.length >> 1);
    await raw.putBytes(damaged.key, bytes);
    const before = await fingerprint(stack.conn);
    const alerts = stack.alerts.published.length;

    const error = await failure(restore({ backupId: damaged.id }));

    expect(error).toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining(damaged.key), hint: expect.stringContaining('"app" was not touched') });
    expect(error.hint).not.toMatch(/scratch/);
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await scratchLeft()).toEqual([]);
    expect(await tmpLeft()).toEqual([]);
    expect(await stack.catalog.get(damaged.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
    expect(stack.alerts.published.slice(alerts)).toEqual([expect.objectContaining({ type: 'CHECKSUM_MISMATCH', backupId: damaged.id, database: 'app' })]);
    // `latest` now skips it.
    expect((await restore({ target: { ...stack.conn, database: 'latest_check' }, database: 'app' })).backupId).not.toBe(damaged.id);
  });

  it('rows that do not match the manifest: RESTORE_VERIFICATION_FAILED listing each difference, scratch dropped', async () => {
    const tampered = await backup();
    const manifest = parseManifest((await stack.storage.getBytes(tampered.manifestKey)).toString(), tampered.manifestKey);
    const invoices = manifest.tables.find((t) => t.name === 'Invoices')!;
    invoices.rows += 1;
    manifest.tables.push({ schema: 'public', name: 'ghost', rows: 3 });
    await stack.rawStorage().putBytes(tampered.manifestKey, serializeManifest(manifest));
    const before = await fingerprint(stack.conn);

    const error = await failure(restore({ backupId: tampered.id }));

    expect(error.code).toBe('RESTORE_VERIFICATION_FAILED');
    expect(error.message).toContain(`"Billing"."Invoices" has ${invoices.rows - 1} rows, the manifest ${invoices.rows}`);
    expect(error.message).toContain('"public"."ghost" is missing');
    expect(error.hint).toMatch(/"app" was not touched \(the scratch database "app_restoring_\d{14}" was dropped\)/);
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await scratchLeft()).toEqual([]);
  });

  it('a dump whose checksum matches but that is no archive: ARCHIVE_INVALID from pg_restore --list, nothing created', async () => {
    const garbage = await backup();
    const bytes = Buffer.from('PGDMP but not really an archive\n'.repeat(100));
    const manifest = parseManifest((await stack.storage.getBytes(garbage.manifestKey)).toString(), garbage.manifestKey);
    manifest.objects.dump = { ...manifest.objects.dump, ...digestBytes(bytes) };
    await stack.rawStorage().putBytes(garbage.key, bytes);
    await stack.rawStorage().putBytes(garbage.manifestKey, serializeManifest(manifest));
    const names = await databaseNames(stack.conn);

    const error = await failure(restore({ backupId: garbage.id }));

    expect(error).toMatchObject({ code: 'ARCHIVE_INVALID', message: expect.stringContaining('pg_restore'), hint: expect.stringContaining('"app" was not touched') });
    expect(await databaseNames(stack.conn)).toEqual(names);
    expect(await tmpLeft()).toEqual([]);
  });

  it('latest with no VERIFIED backup of the database: BACKUP_NOT_FOUND, nothing created', async () => {
    const names = await databaseNames(stack.conn);
    const error = await failure(restore({ target: { ...stack.conn, database: 'nobody' } }));
    expect(error).toMatchObject({ code: 'BACKUP_NOT_FOUND', message: expect.stringContaining('no VERIFIED full logical backup of database "nobody"') });
    expect(await databaseNames(stack.conn)).toEqual(names);
  });

  it('an unreachable target: DB_UNREACHABLE, nothing created, no temporary file', async () => {
    const names = await databaseNames(stack.conn);
    const error = await failure(restore({ target: { ...stack.conn, port: 1 }, database: 'app' }));
    expect(error.code).toBe('DB_UNREACHABLE');
    expect(error.message).not.toContain('test-Secret-42');
    expect(await databaseNames(stack.conn)).toEqual(names);
    expect(await tmpLeft()).toEqual([]);
  });

  it('another restore into the same target holds the lock: CONFLICT', async () => {
    const holder = await openRestoreServer(stack.conn);
    try {
      expect(await holder.lock('app')).toBe(true);
      expect((await failure(restore({ backupId: gzipBackup.id }))).code).toBe('CONFLICT');
    } finally {
      await holder.close();
    }
  });
});

describe('a failed or killed restore', () => {
  const failingRestore = { ...pgRestoreTools, async restoreArchive(...args: Parameters<typeof pgRestoreTools.restoreArchive>) {
    await pgRestoreTools.restoreArchive(...args);
    throw new DumpError('pg_restore was killed by SIGKILL', 'run it again');
  } };

  it('pg_restore failing midway leaves the target as it was and drops the scratch database', async () => {
    await modify(stack.conn);
    const before = await fingerprint(stack.conn);

    const error = await failure(restore({ backupId: gzipBackup.id }, { restoreTools: failingRestore }));

    expect(error).toMatchObject({ code: 'DUMP_FAILED', hint: expect.stringMatching(/"app" was not touched \(the scratch database "app_restoring_\d{14}" was dropped\)/) });
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await scratchLeft()).toEqual([]);
    expect(await tmpLeft()).toEqual([]);
  });

  it('a run killed before its cleanup leaves a scratch database that the next run drops (and logs)', async () => {
    const before = await fingerprint(stack.conn);
    // A killed process never drops its scratch database: model that by a cleanup that cannot run.
    const dying = async (target: PgConnection) => {
      const server = await openRestoreServer(target);
      const dropDatabase = async (name: string): Promise<void> => {
        if (name.includes('_restoring_')) throw new Error('process killed');
        await server.dropDatabase(name);
      };
      return Object.assign(Object.create(server) as RestoreServer, { dropDatabase });
    };
    await failure(restore({ backupId: gzipBackup.id }, { restoreTools: failingRestore, openServer: dying }));
    const [leftover, ...others] = await scratchLeft();
    expect(leftover).toMatch(/^app_restoring_\d{14}$/);
    expect(others).toEqual([]);
    expect(await fingerprint(stack.conn)).toEqual(before);
    // Its timestamp is of this second: wait for the next run to name a different scratch database.
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const report = await restore({ backupId: gzipBackup.id });

    expect(report.droppedLeftovers).toEqual([leftover]);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'leftover scratch database of a killed restore dropped', attributes: expect.objectContaining({ database: leftover }) }));
    expect(await scratchLeft()).toEqual([]);
    expect(await fingerprint(stack.conn)).toEqual(original);
  });
});
