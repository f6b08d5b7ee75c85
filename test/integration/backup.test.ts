import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgEnv } from '../../shared/domain/connection';
import { parseManifest } from '../../shared/domain/manifest';
import { objectCreatedEvent } from '../../shared/domain/object-event';
import { checksumHandler } from '../../functions/checksum';
import { catalogIndexHandler } from '../../functions/catalog-index';
import { runLogicalBackup, type BackupRequest } from '../../shared/usecases/backup';
import { rebuildCatalog } from '../../shared/usecases/rebuild-catalog';
import { readAll } from '../support/pg';
import { keysUnder, startStack, type Stack } from '../support/stack';

let stack: Stack;
let corruptedId = '';

beforeAll(async () => {
  stack = await startStack({ storage: 'folder' });
});
afterAll(async () => stack?.stop());

function request(overrides: Partial<BackupRequest> = {}): BackupRequest {
  return { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test', ...overrides };
}

function psql(database: string, sql: string): string {
  const result = spawnSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    env: { ...process.env, ...pgEnv({ ...stack.conn, database }) },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

function liveCounts(database: string): Record<string, number> {
  const out = psql(
    database,
    `SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  return Object.fromEntries(out.split('\n').map((line) => line.split('|')).map(([name, rows]) => [name!, Number(rows)]));
}

describe('logical backup into the repository folder', () => {
  it('streams pg_dump into storage, writes globals and the manifest last, and ends VERIFIED', async () => {
    const entry = await runLogicalBackup(stack.deps, request({ tier: 'daily' }));

    expect(entry.state).toBe('VERIFIED');
    expect(entry.key).toBe(`logical/daily/app/${entry.id}/dump`);
    const keys = await keysUnder(stack.storage, `logical/daily/app/${entry.id}/`);
    expect(keys.sort()).toEqual([entry.globalsKey, entry.key, entry.manifestKey].sort());
    const manifest = parseManifest((await stack.storage.getBytes(entry.manifestKey)).toString(), entry.manifestKey);
    expect(manifest.objects.dump.sha256).toBe(entry.sha256);
    expect(manifest.source.serverVersion).toMatch(/^15\./);
    expect(manifest.tools.pgDump).toMatch(/^\d+\.\d+/);
    const counts = Object.fromEntries(manifest.tables.map((t) => [`${t.schema}.${t.name}`, t.rows]));
    expect(counts).toEqual(liveCounts('app'));
    expect(Object.values(counts).some((rows) => rows > 0)).toBe(true);
    const globals = (await stack.storage.getBytes(entry.globalsKey!)).toString();
    expect(globals).toContain('CREATE ROLE postgres');
    expect(globals).not.toMatch(/PASSWORD 'SCRAM/);
    expect(stack.log.lines.some((line) => line.message === 'backup verified' && line.attributes?.backupId === entry.id)).toBe(true);
  });

  it('restores into an empty database with the same row counts', async () => {
    const entry = await runLogicalBackup(stack.deps, request());
    psql('postgres', 'CREATE DATABASE roundtrip');
    const dump = await readAll(await stack.storage.get(entry.key));
    const restore = spawnSync('pg_restore', ['--no-owner', '--exit-on-error', '-d', 'roundtrip'], {
      input: dump,
      env: { ...process.env, ...pgEnv({ ...stack.conn, database: 'roundtrip' }) },
    });
    expect(restore.stderr.toString()).toBe('');
    expect(liveCounts('roundtrip')).toEqual(liveCounts('app'));
  });

  it('offers zstd compression (pg_dump -Z0 | zstd), still restorable', async () => {
    const entry = await runLogicalBackup(stack.deps, request({ compression: 'zstd' }));
    expect(entry.state).toBe('VERIFIED');
    expect(entry.key.endsWith('/dump.zst')).toBe(true);
    const compressed = await readAll(await stack.storage.get(entry.key));
    const plain = spawnSync('zstd', ['-d', '-c'], { input: compressed });
    const list = spawnSync('pg_restore', ['--list'], { input: plain.stdout });
    expect(list.status).toBe(0);
    expect(list.stdout.toString()).toContain('TABLE DATA public customers');
  });

  it('takes a table-level backup by pg_dump pattern, with counts for those tables only and no globals', async () => {
    const entry = await runLogicalBackup(stack.deps, request({ tablePatterns: ['"Sales".*'] }));
    expect(entry).toMatchObject({ state: 'VERIFIED', scope: 'tables', tables: ['"Sales".*'] });
    expect(entry.globalsKey).toBeUndefined();
    const manifest = parseManifest((await stack.storage.getBytes(entry.manifestKey)).toString(), entry.manifestKey);
    expect(manifest.tables.length).toBeGreaterThan(0);
    expect(manifest.tables.every((table) => table.schema === 'Sales')).toBe(true);
    expect(manifest.objects.globals).toBeUndefined();
  });

  it('a table-level backup of a partitioned table carries its partitions\' rows, as counted', async () => {
    const entry = await runLogicalBackup(stack.deps, request({ tablePatterns: ['public.events'] }));
    expect(entry.state).toBe('VERIFIED');
    const manifest = parseManifest((await stack.storage.getBytes(entry.manifestKey)).toString(), entry.manifestKey);
    expect(manifest.tables.map((t) => t.name).sort()).toEqual(['events_2024_01', 'events_2024_02']);
    const list = spawnSync('pg_restore', ['--list'], { input: await readAll(await stack.storage.get(entry.key)) }).stdout.toString();
    expect(list).toMatch(/TABLE DATA public events_2024_01/);
    expect(list).toMatch(/TABLE DATA public events_2024_02/);
    const live = liveCounts('app');
    for (const table of manifest.tables) expect(table.rows).toBe(live[`public.${table.name}`]);
  });

  it('lists newest first from the catalog', async () => {
    const all = await stack.catalog.listByDatabase('app');
    expect(all.length).toBeGreaterThanOrEqual(4);
    const times = all.map((entry) => entry.startedAt);
    expect([...times].sort().reverse()).toEqual(times);
  });
});

describe('checksum and catalog-index functions', () => {
  it('a repeated event changes nothing; a flipped byte makes the backup FAILED with an alert', async () => {
    const entry = await runLogicalBackup(stack.deps, request());
    const event = objectCreatedEvent({ bucket: stack.storage.bucket, key: entry.manifestKey, size: 1, time: new Date() });
    const checksum = checksumHandler({ ...stack.deps });
    expect(await checksum(event)).toEqual({ verified: [entry.id], failed: [], ignored: [] });
    expect((await stack.catalog.get(entry.id))?.state).toBe('VERIFIED');

    // Flip one byte of the stored dump, then let the checksum run where the entry is not yet final.
    const raw = stack.rawStorage();
    const bytes = await raw.getBytes(entry.key);
    bytes.writeUInt8(bytes.readUInt8(Math.floor(bytes.length / 2)) ^ 0xff, Math.floor(bytes.length / 2));
    await raw.putBytes(entry.key, bytes);
    corruptedId = entry.id;
    const catalog = await stack.freshCatalog('checksum-fresh');
    const handler = checksumHandler({ ...stack.deps, catalog });
    const before = stack.alerts.published.length;
    expect(await handler(event)).toEqual({ verified: [], failed: [entry.id], ignored: [] });
    expect(await catalog.get(entry.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
    expect(stack.alerts.published.slice(before)).toEqual([expect.objectContaining({ type: 'CHECKSUM_MISMATCH', severity: 'SEV2', backupId: entry.id, database: 'app' })]);
    // Repeated delivery: no second alert, no change.
    expect(await handler(event)).toEqual({ verified: [], failed: [entry.id], ignored: [] });
    expect(stack.alerts.published.length).toBe(before + 1);
  });

  it('ignores garbage events and keys that are not manifests, without throwing', async () => {
    const checksum = checksumHandler(stack.deps);
    expect((await checksum({ hello: 'world' })).ignored).toHaveLength(1);
    const notManifest = objectCreatedEvent({ bucket: stack.storage.bucket, key: 'logical/daily/app/x/dump', size: 1, time: new Date() });
    expect(await catalogIndexHandler({ ...stack.deps, walCatalog: stack.walCatalog })(notManifest)).toEqual({ indexed: [], ignored: ['logical/daily/app/x/dump'] });
    const otherBucket = objectCreatedEvent({ bucket: 'someone-else', key: 'logical/daily/app/x/manifest.json', size: 1, time: new Date() });
    expect((await checksum(otherBucket)).ignored).toEqual(['logical/daily/app/x/manifest.json']);
  });

  it('an unreadable manifest is reported with an alert, not retried', async () => {
    await stack.rawStorage().putBytes('logical/manual/app/20260101T000000Z-l-badbad/manifest.json', '{"formatVersion": 99}');
    const before = stack.alerts.published.length;
    const result = await checksumHandler(stack.deps)(
      objectCreatedEvent({ bucket: stack.storage.bucket, key: 'logical/manual/app/20260101T000000Z-l-badbad/manifest.json', size: 1, time: new Date() }),
    );
    expect(result.failed).toEqual(['logical/manual/app/20260101T000000Z-l-badbad/manifest.json']);
    expect(stack.alerts.published.slice(before)).toEqual([expect.objectContaining({ type: 'MANIFEST_INVALID', code: 'MANIFEST_INVALID' })]);
    await stack.rawStorage().delete(['logical/manual/app/20260101T000000Z-l-badbad/manifest.json']);
  });
});

describe('catalog rebuild', () => {
  it('rebuilds every entry from the manifests in storage and re-verifies them', async () => {
    const original = await stack.catalog.listAll();
    const catalog = await stack.freshCatalog('rebuilt');
    const report = await rebuildCatalog({ ...stack.deps, catalog }, { verify: true });
    const rebuilt = await catalog.listAll();
    expect(report.manifests).toBe(rebuilt.length);
    expect(report.created).toBe(rebuilt.length);
    expect(report.unreadable).toEqual([]);
    // The backup corrupted above is VERIFIED in the original catalog but fails a fresh checksum.
    expect(corruptedId).not.toBe('');
    expect(await catalog.get(corruptedId)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
    for (const entry of original.filter((e) => e.state === 'VERIFIED' && e.id !== corruptedId)) {
      expect(await catalog.get(entry.id)).toMatchObject({ id: entry.id, state: 'VERIFIED', sha256: entry.sha256, tier: entry.tier, key: entry.key });
    }
    expect(report.failed).toBe(rebuilt.filter((e) => e.state === 'FAILED').length);
    expect(report.failed).toBe(1); // the corrupted one above
    expect(report.verified).toBe(rebuilt.length - 1);
    const again = await rebuildCatalog({ ...stack.deps, catalog }, { verify: true });
    expect(again).toMatchObject({ created: 0, alreadyKnown: report.manifests });
  });
});
