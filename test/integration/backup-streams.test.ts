/**
 * The parallel logical backup (`streams`, issue 15 point 6) end to end: real PostgreSQL 15,
 * real pg_dump / pg_restore, the real SDK against s3rver and dynalite on 127.0.0.1, the
 * ObjectCreated events delivered as in local mode. One exported snapshot, pre-data, 3 data
 * parts, post-data and the schema part, each its own object; verified, restored (every row,
 * sequence, large object and relation as before), a damaged part refused, a table restored
 * from its part, a dropped table recreated from the schema part, found again by `catalog
 * rebuild`, and deleted whole by retention.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../shared/domain/backup';
import { parseManifest, type Manifest } from '../../shared/domain/manifest';
import { dataParts, postDataPart } from '../../shared/domain/manifest-parts';
import type { RetentionDecision } from '../../shared/domain/retention';
import type { StrongboxError } from '../../shared/errors';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { pgRestoreTableDeps } from '../../shared/runtime/table-restore-deps';
import { pgValidationDeps } from '../../shared/runtime/validate-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { rebuildCatalog } from '../../shared/usecases/rebuild-catalog';
import { runRestore, type RestoreDeps } from '../../shared/usecases/restore';
import { previewRecreate, runRestoreTable } from '../../shared/usecases/restore-table';
import { deleteBackup } from '../../shared/usecases/retention/backups';
import { runValidation } from '../../shared/usecases/validate';
import { addRichObjects, databaseNames, fingerprint, sql, type Fingerprint } from '../support/restore';
import { keysUnder, startStack, type Stack } from '../support/stack';
import { recordingClusters } from '../support/validate';

let stack: Stack;
let deps: RestoreDeps;
let tmp: string;
let original: Fingerprint;
let backup: BackupEntry;
let manifest: Manifest;

async function manifestOf(entry: BackupEntry): Promise<Manifest> {
  return parseManifest((await stack.storage.getBytes(entry.manifestKey)).toString(), entry.manifestKey);
}

function streamsBackup(): Promise<BackupEntry> {
  return runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test', dumpJobs: 3 });
}

async function failure(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a failure');
}

/** Rewrites one stored object with one byte flipped (same size: only a read finds it). */
async function flipByte(key: string, at: number): Promise<void> {
  const raw = stack.rawStorage();
  const bytes = Buffer.from(await raw.getBytes(key));
  bytes[at] = bytes[at]! ^ 0xff;
  await raw.putBytes(key, bytes);
}

const restoring = async () => (await databaseNames(stack.conn)).filter((name) => name.includes('_restoring_'));

beforeAll(async () => {
  stack = await startStack({ storage: 's3', rows: 400 });
  await addRichObjects(stack.conn);
  tmp = await mkdtemp(join(tmpdir(), 'sbx-streams-'));
  // The throwaway server of validate runs as the postgres OS user when tests run as root.
  await chmod(tmp, 0o755);
  deps = { ...stack.deps, ...pgRestoreDeps, tmpDir: tmp };
  original = await fingerprint(stack.conn);
  backup = await streamsBackup();
  manifest = await manifestOf(backup);
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  stack.log.lines.length = 0;
});

describe('a streams backup', () => {
  it('is one catalog entry, VERIFIED once, its parts each an object with its size and SHA-256 in the manifest (format 2)', async () => {
    expect(backup.state).toBe('VERIFIED');
    expect(manifest.formatVersion).toBe(2);
    const data = dataParts(manifest);
    expect(data).toHaveLength(3);
    expect(data.filter((part) => part.rest)).toHaveLength(1);
    expect(postDataPart(manifest)).toBeDefined();
    const prefix = backup.manifestKey.slice(0, backup.manifestKey.lastIndexOf('/') + 1);
    const keys = (await keysUnder(stack.storage, prefix)).map((key) => key.slice(prefix.length)).sort();
    expect(keys).toEqual(['data-01.dump', 'data-02.dump', 'data-03.dump', 'globals.sql', 'manifest.json', 'post-data.dump', 'pre-data.dump', 'schema.dump']);
    for (const part of [manifest.objects.dump, ...(manifest.objects.parts ?? [])]) {
      expect((await stack.storage.head(part.key))?.size).toBe(part.bytes);
    }
    expect(backup.partKeys).toEqual((manifest.objects.parts ?? []).map((part) => part.key));
    const all = [manifest.objects.dump, manifest.objects.globals!, ...(manifest.objects.parts ?? [])];
    expect(backup.bytes).toBe(all.reduce((sum, o) => sum + o.bytes, 0));
    // Every listed table is in exactly one listed part.
    const listed = data.flatMap((part) => part.tables ?? []).map((t) => `${t.schema}.${t.name}`);
    expect(new Set(listed).size).toBe(listed.length);
    expect((await stack.catalog.listByDatabase('app')).map((e) => e.id)).toEqual([backup.id]);
  });

  it('restores as it was: every row, sequence, large object and relation; no local file', async () => {
    await sql(stack.conn, 'DELETE FROM "Billing"."Invoices" WHERE id % 2 = 0');

    const report = await runRestore(deps, { backupId: backup.id, target: stack.conn, jobs: 1, dropFirst: false, force: false });

    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'restore', 'verify', 'swap']);
    expect(await fingerprint(stack.conn)).toEqual(original);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ message: 'restore reads the dump', attributes: expect.objectContaining({ path: 'parts', parts: 5 }) }));
    await sql({ ...stack.conn, database: 'postgres' }, `DROP DATABASE "${report.keptAs}"`);
  });

  it('with 2 jobs builds the indexes in parallel: the post-data part is copied, checked, then restored with pg_restore -j 2', async () => {
    await sql(stack.conn, 'DELETE FROM "Billing"."Invoices" WHERE id % 3 = 0');
    const archives: Array<{ file: string; jobs: number }> = [];
    const tools = { ...pgRestoreDeps.restoreTools, restoreArchive: (...args: Parameters<typeof pgRestoreDeps.restoreTools.restoreArchive>) => {
      archives.push({ file: args[1], jobs: args[2].jobs });
      return pgRestoreDeps.restoreTools.restoreArchive(...args);
    } };

    const report = await runRestore({ ...deps, restoreTools: tools }, { backupId: backup.id, target: stack.conn, jobs: 2, dropFirst: false, force: false });

    expect(archives).toEqual([{ file: expect.stringMatching(/\/post-data\/dump$/), jobs: 2 }]);
    expect(await fingerprint(stack.conn)).toEqual(original);
    await sql({ ...stack.conn, database: 'postgres' }, `DROP DATABASE "${report.keptAs}"`);
  });

  it('restores a table from the listed part that holds it, and one from the rest part', async () => {
    const listed = new Set(dataParts(manifest).flatMap((part) => part.tables ?? []).map((t) => `${t.schema}.${t.name}`));
    // Tables no foreign key points at (a replace deletes their rows first), not partitions.
    const candidates = manifest.tables.filter((t) => t.name !== 'customers' && !/_20\d\d/.test(t.name) && t.rows > 0);
    const chosen = [candidates.find((t) => listed.has(`${t.schema}.${t.name}`)), candidates.find((t) => !listed.has(`${t.schema}.${t.name}`))].filter((t) => t !== undefined);
    expect(chosen).toHaveLength(2);
    for (const table of chosen) {
      const quoted = `"${table.schema}"."${table.name}"`;
      await sql(stack.conn, `DELETE FROM ${quoted} WHERE ctid IN (SELECT ctid FROM ${quoted} LIMIT 3)`);

      const report = await runRestoreTable({ ...stack.deps, ...pgRestoreTableDeps, tmpDir: tmp }, { backupId: backup.id, target: stack.conn, table: quoted, mode: 'replace', force: false });

      expect(report.tables).toEqual([expect.objectContaining({ rowsAfter: table.rows })]);
    }
    expect(await fingerprint(stack.conn)).toEqual(original);
  });

  it('recreates a dropped table from its schema part: rows from their data part, keys, index, foreign key and view back', async () => {
    const tableDeps = { ...stack.deps, ...pgRestoreTableDeps, tmpDir: tmp };
    const request = { backupId: backup.id, target: stack.conn, table: '"Sales"."orders"', mode: 'recreate' as const, force: false };
    expect(manifest.objects.parts?.at(-1)).toMatchObject({ section: 'schema', key: expect.stringMatching(/schema\.dump$/) });
    // The dry run reads the schema part alone.
    const preview = await previewRecreate(tableDeps, { ...request, database: 'app' });
    expect(preview.objects.map((o) => o.object)).toEqual(expect.arrayContaining(['TABLE Sales orders', 'TABLE DATA Sales orders', 'CONSTRAINT Sales orders orders_pkey', 'INDEX Sales orders_customer_id_idx', 'FK CONSTRAINT Sales orders orders_customer_id_fkey', 'VIEW Sales customer_totals']));
    await sql(stack.conn, 'DROP TABLE "Sales".orders CASCADE');

    const report = await runRestoreTable(tableDeps, request);

    expect(report.skipped).toEqual([]);
    expect(report.tables).toEqual([expect.objectContaining({ table: '"Sales"."orders"', rowsBefore: null, rowsAfter: manifest.tables.find((t) => t.schema === 'Sales' && t.name === 'orders')!.rows })]);
    // The rows come after the definition and before what is built on them, as from a whole dump.
    const order = report.recreated!;
    expect(order.indexOf('TABLE DATA Sales orders')).toBeGreaterThan(order.indexOf('TABLE Sales orders'));
    expect(order.indexOf('TABLE DATA Sales orders')).toBeLessThan(order.indexOf('INDEX Sales orders_customer_id_idx'));
    expect(await fingerprint(stack.conn)).toEqual(original);
    await expect(sql(stack.conn, 'INSERT INTO "Sales".orders (customer_id, amount, ordered_at) VALUES (999999, 1, now())')).rejects.toThrow(/violates foreign key constraint "orders_customer_id_fkey"/);
  });

  it('refuses --mode recreate from a parallel backup written before the schema part, before touching anything, naming the way by the moment', async () => {
    // The same backup as an older Strongbox wrote it: its manifest without the schema part.
    const stored = await stack.storage.getBytes(backup.manifestKey);
    const older = { ...manifest, objects: { ...manifest.objects, parts: manifest.objects.parts!.filter((part) => part.section !== 'schema') } };
    await stack.storage.putBytes(backup.manifestKey, Buffer.from(JSON.stringify(older)));
    try {
      const before = await fingerprint(stack.conn);
      const error = await failure(runRestoreTable({ ...stack.deps, ...pgRestoreTableDeps, tmpDir: tmp }, { backupId: backup.id, target: stack.conn, table: '"Sales"."orders"', mode: 'recreate', force: false }));
      expect(error.code).toBe('RESTORE_TABLE_REFUSED');
      expect(error.message).toMatch(/written before backups had a schema part/);
      expect(error.hint).toMatch(/--time <a moment before the drop> --mode recreate/);
      expect(await fingerprint(stack.conn)).toEqual(before);
    } finally {
      await stack.storage.putBytes(backup.manifestKey, stored);
    }
  });

  it('validates on a throwaway PostgreSQL: every table\'s row count as the manifest says, lastValidation recorded', async () => {
    const report = await runValidation({ ...stack.deps, ...pgValidationDeps, startCluster: recordingClusters().start, tmpDir: tmp }, { backupId: backup.id, jobs: 1 });

    expect(report).toMatchObject({ backupId: backup.id, ok: true, tables: manifest.tables.length, rows: manifest.tables.reduce((sum, t) => sum + t.rows, 0) });
    expect(await stack.catalog.get(backup.id)).toMatchObject({ state: 'VERIFIED', lastValidation: { ok: true } });
  });

  it('a damaged data part: the restore is refused (CHECKSUM_MISMATCH), the target untouched, the backup FAILED', async () => {
    const damaged = await streamsBackup();
    const part = dataParts(await manifestOf(damaged)).find((p) => p.bytes > 100)!;
    await flipByte(part.key, Math.floor(part.bytes / 2));
    await sql(stack.conn, 'CREATE TABLE only_in_target (x int)');
    const before = await fingerprint(stack.conn);

    const error = await failure(runRestore(deps, { backupId: damaged.id, target: stack.conn, jobs: 1, dropFirst: false, force: false }));

    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(error.message).toContain(part.key);
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await restoring()).toEqual([]);
    expect(await stack.catalog.get(damaged.id)).toMatchObject({ state: 'FAILED' });
    await sql(stack.conn, 'DROP TABLE only_in_target');
  });

  it('a damaged post-data part restored with 2 jobs: refused before pg_restore reads it, the target untouched, the backup FAILED', async () => {
    const damaged = await streamsBackup();
    const post = postDataPart(await manifestOf(damaged))!;
    await flipByte(post.key, Math.floor(post.bytes / 2));
    const before = await fingerprint(stack.conn);

    const error = await failure(runRestore(deps, { backupId: damaged.id, target: stack.conn, jobs: 2, dropFirst: false, force: false }));

    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(error.message).toContain(post.key);
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect(await restoring()).toEqual([]);
    expect(await stack.catalog.get(damaged.id)).toMatchObject({ state: 'FAILED' });
  });

  it('catalog rebuild finds it, and verification checks each part: a damaged one is never VERIFIED', async () => {
    const damaged = await streamsBackup();
    const part = postDataPart(await manifestOf(damaged))!;
    await flipByte(part.key, Math.floor(part.bytes / 2));
    const catalog = await stack.freshCatalog('rebuild-streams');

    const report = await rebuildCatalog({ ...stack.deps, catalog }, { verify: true });

    expect(await catalog.get(backup.id)).toMatchObject({ state: 'VERIFIED', partKeys: backup.partKeys, bytes: backup.bytes });
    expect(await catalog.get(damaged.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
    expect(report.damaged.map((d) => d.backupId)).toContain(damaged.id);
    expect(report.incomplete).toEqual([]);
  });

  it('a part that fails: the backup FAILED with the reason, every part written deleted, no manifest', async () => {
    // The post-data pg_dump is given a table that does not exist (--strict-names): it fails while the others run.
    const tools = { ...pgDumpTools, spawnPgDump: (conn: Parameters<typeof pgDumpTools.spawnPgDump>[0], options: Parameters<typeof pgDumpTools.spawnPgDump>[1]) =>
      pgDumpTools.spawnPgDump(conn, options.section === 'post-data' ? { ...options, tablePatterns: ['public.no_such_table'] } : options) };

    const error = await failure(runLogicalBackup({ ...stack.deps, tools }, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'zstd', includeRolePasswords: false, runner: 'test', dumpJobs: 3 }));

    const failed = (await stack.catalog.listByDatabase('app')).find((e) => e.state === 'FAILED' && e.compression === 'zstd')!;
    expect(failed.errorCode).toBe(error.code);
    // Its parts were named in the catalog before any was written (what retention deletes of a killed backup).
    expect(failed.key).toMatch(/\/pre-data\.dump\.zst$/);
    expect(failed.partKeys?.map((key) => key.slice(key.lastIndexOf('/') + 1))).toEqual(['data-01.dump.zst', 'data-02.dump.zst', 'data-03.dump.zst', 'post-data.dump.zst', 'schema.dump.zst']);
    const prefix = failed.manifestKey.slice(0, failed.manifestKey.lastIndexOf('/') + 1);
    expect(await keysUnder(stack.storage, prefix)).toEqual([]);
    expect(stack.alerts.published).toContainEqual(expect.objectContaining({ type: 'BACKUP_FAILED', backupId: failed.id }));
  });

  it('retention deletes every part, the manifest first', async () => {
    const doomed = await streamsBackup();
    const prefix = doomed.manifestKey.slice(0, doomed.manifestKey.lastIndexOf('/') + 1);
    expect((await keysUnder(stack.storage, prefix)).length).toBe(8);
    const decision: RetentionDecision = {
      subject: 'backup',
      id: doomed.id,
      database: doomed.database,
      tier: doomed.tier,
      state: doomed.state,
      startedAt: doomed.startedAt,
      action: 'delete',
      rule: 'EXPIRED',
      reason: 'test',
      entry: doomed,
    } as RetentionDecision;

    await deleteBackup(stack.deps, decision, 0);

    expect(await keysUnder(stack.storage, prefix)).toEqual([]);
    expect(await stack.catalog.get(doomed.id)).toBeUndefined();
  });
});
