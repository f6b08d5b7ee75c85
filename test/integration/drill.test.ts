/**
 * The physical drill (`validate --pitr`) on real PostgreSQL 15 archiving through Strongbox: a
 * base backup, WAL across several segments, logical backups taken while pgbench writes; then a
 * scratch recovered to each backup's instant and compared with its manifest.
 *  - wal_level logical: the snapshot of a temporary logical slot, an exact instant: every table
 *    compared (rows and checksum), pg_amcheck clean, the result on the backup, no alert;
 *  - the bounds (as with wal_level replica): tables changed between them are named, not compared;
 *  - a manifest whose rows were changed (tampering): DRILL_MISMATCH, the alert;
 *  - one WAL segment in the middle corrupted in storage: recovery stops, the alert.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../shared/adapters/postgres/client';
import { openSnapshot } from '../../shared/adapters/postgres/snapshot';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import type { BackupEntry } from '../../shared/domain/backup';
import { parseManifest } from '../../shared/domain/manifest';
import { walRecordKey } from '../../shared/domain/wal/keys';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { pgDrillReader, pgScratchServer } from '../../shared/runtime/scratch-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runPitrDrill, type PitrDrillDeps } from '../../shared/usecases/pitr-drill';
import { readStatus } from '../../shared/usecases/status';
import { JOB_EXIT } from '../../shared/domain/invoke/job';
import { pgValidationDeps } from '../../shared/runtime/validate-tools';
import { runValidateTask } from '../../tasks/validate';
import { flipByte } from '../support/validate';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

let stack: WalStack;
let parent: string;
let exact: BackupEntry;
let bounded: BackupEntry;
const middle: string[] = [];

function pgbench(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', [...args, 'postgres'], { env: toolEnv(stack.pg.conn), stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pgbench ${args.join(' ')} exited ${code}: ${err.slice(-500)}`))));
  });
}

/** A full logical backup of the cluster's `postgres` database, taken while pgbench writes. */
async function backupUnderLoad(instant: 'auto' | 'bounds', withLoad = true): Promise<BackupEntry> {
  const load = withLoad ? pgbench(['-c', '2', '-T', '3', '-n']).catch((error: unknown) => error) : Promise.resolve(undefined);
  if (withLoad) await new Promise((resolve) => setTimeout(resolve, 500));
  const entry = await runLogicalBackup(
    {
      storage: stack.storage, catalog: stack.catalog, alerts: stack.alerts, log: stack.log, clock: () => new Date(), version: 'test', heartbeatMs: 500, staleAfterMs: 60_000,
      tools: { ...pgDumpTools, openSnapshot: (conn, options) => openSnapshot(conn, { ...options, instant }) },
    },
    { database: WAL_DATABASE, connection: stack.pg.conn, tier: 'daily', compression: 'zstd', includeRolePasswords: false, runner: `pid:${process.pid}` },
  );
  expect(await load).toBeUndefined();
  expect(entry.state).toBe('VERIFIED');
  return entry;
}

function deps(): PitrDrillDeps {
  return { catalog: stack.catalog, walCatalog: stack.walCatalog, storage: stack.storage, log: stack.log, alerts: stack.alerts, clock: () => new Date(), server: pgScratchServer, reader: pgDrillReader, tmpDir: parent };
}

const drill = (to: string) => runPitrDrill(deps(), { to, database: WAL_DATABASE, restoreCommand: () => stack.host.restoreCommand, timeoutMs: 180_000 });

beforeAll(async () => {
  stack = await startWalStack({ settings: { wal_level: 'logical', max_wal_size: '256MB', archive_timeout: '3600s' } });
  parent = await mkdtemp(join(tmpdir(), 'sbx-drill-'));
  await chmod(parent, 0o755);
  const sql = (text: string) => stack.pg.cluster.psql(text);
  await pgbench(['-i', '-s', '2', '-q']);
  await sql('CREATE TABLE markers (id int PRIMARY KEY, note text); CREATE TABLE "Quiet Table" (id int, v numeric, at timestamptz DEFAULT now()); INSERT INTO "Quiet Table" (id, v) SELECT g, g / 7.0 FROM generate_series(1, 1000) g;');
  await stack.baseBackup();
  // Several segments between the base backup and the logical backups: one of them is corrupted last.
  for (let i = 1; i <= 3; i += 1) {
    await sql(`INSERT INTO markers VALUES (${i}, repeat('x', 100)); INSERT INTO "Quiet Table" (id, v) SELECT g, g FROM generate_series(1, 20000) g;`);
    middle.push(await stack.switchAndWait(180_000));
  }
  exact = await backupUnderLoad('auto');
  bounded = await backupUnderLoad('bounds');
  await sql('INSERT INTO markers VALUES (99, \'after\');');
  await stack.switchAndWait(180_000);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe('physical drill', () => {
  it('wal_level logical: recovers to the slot\'s consistent point, every table equal in rows and checksum, pg_amcheck clean, recorded', async () => {
    const manifest = parseManifest((await stack.storage.getBytes(exact.manifestKey)).toString(), exact.manifestKey);
    expect(manifest.source.snapshot).toMatchObject({ method: 'logical-slot' });
    const report = await drill(exact.id);
    expect(report.reason).toBeUndefined();
    expect(report).toMatchObject({ ok: true, backupId: exact.id, instant: { method: 'logical-slot' }, amcheck: { ok: true } });
    expect(report.comparison?.differences).toEqual([]);
    expect(report.comparison?.notCompared).toEqual([]);
    expect(report.comparison?.compared).toBe(manifest.tables.length);
    expect(report.split.fetch).toBeGreaterThan(0);
    expect(report.split.replay).toBeGreaterThan(0);
    expect(report.replay?.walBytes).toBeGreaterThan(3 * 16 * 1024 * 1024);
    expect((await stack.catalog.get(exact.id))?.lastPitrDrill).toMatchObject({ ok: true, compared: manifest.tables.length, baseBackupId: report.baseBackupId });
    expect(stack.alerts.published.filter((a) => a.type === 'VALIDATION_FAILED')).toEqual([]);
    expect(await readdir(parent)).toEqual([]);
  }, 300_000);

  it('the bounds: recovers before and after the snapshot, compares what did not change between them and names the rest', async () => {
    const manifest = parseManifest((await stack.storage.getBytes(bounded.manifestKey)).toString(), bounded.manifestKey);
    expect(manifest.source.snapshot).toMatchObject({ method: 'lsn-bounds' });
    const report = await drill(bounded.id);
    expect(report.reason).toBeUndefined();
    expect(report.ok).toBe(true);
    const comparison = report.comparison!;
    expect(comparison.differences).toEqual([]);
    expect(comparison.compared + comparison.notCompared.length).toBe(manifest.tables.length);
    // Nothing writes to these during the backup: they are always compared.
    expect(comparison.notCompared.map((n) => n.table)).not.toContain('"public"."markers"');
    expect(comparison.notCompared.map((n) => n.table)).not.toContain('"public"."Quiet Table"');
    for (const left of comparison.notCompared) expect(left.why).toMatch(/changed between the LSNs|had committed before/);
    expect(comparison.compared).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it('the validation task runs it for a {"pitr": true} job (sls invoke -f validate), serving the archive itself: exit 0, recorded', async () => {
    const job = JSON.stringify({ pitr: true, to: exact.id, database: WAL_DATABASE });
    const code = await runValidateTask(
      { env: { STRONGBOX_JOB: job }, onStop: () => undefined },
      (_env, log) => ({ storage: stack.storage, catalog: stack.catalog, walCatalog: stack.walCatalog, alerts: stack.alerts, clock: () => new Date(), log, tmpDir: parent, ...pgValidationDeps }),
    );
    expect(code).toBe(JOB_EXIT.ok);
    expect((await stack.catalog.get(exact.id))?.lastPitrDrill).toMatchObject({ ok: true });
    expect(await readdir(parent)).toEqual([]);
  }, 300_000);

  it('the task\'s disk too small for the recovered cluster (the base backup and its WAL, not the dump): exit 1 before anything starts, nothing recorded', async () => {
    const before = (await stack.catalog.get(exact.id))?.lastPitrDrill;
    const alerts = stack.alerts.published.length;
    const asked: string[] = [];
    const code = await runValidateTask(
      { env: { STRONGBOX_JOB: JSON.stringify({ pitr: true, to: exact.id, database: WAL_DATABASE }) }, onStop: () => undefined },
      (_env, log) => ({ storage: stack.storage, catalog: stack.catalog, walCatalog: stack.walCatalog, alerts: stack.alerts, clock: () => new Date(), log, tmpDir: parent, ...pgValidationDeps }),
      async (path) => {
        asked.push(path);
        return 1024 * 1024;
      },
    );
    expect(code).toBe(JOB_EXIT.failed);
    expect(asked).toEqual([parent]);
    expect((await stack.catalog.get(exact.id))?.lastPitrDrill).toEqual(before);
    expect(stack.alerts.published.length).toBe(alerts);
    expect(await readdir(parent)).toEqual([]);
  }, 120_000);

  it('an instant not archived yet: PITR_TARGET_NOT_ARCHIVED, nothing recorded, no alert (not a broken path)', async () => {
    // No load: the segment of its instant stays unfilled, and no archive_timeout switches it (1 h here).
    const late = await backupUnderLoad('auto', false);
    const alerts = stack.alerts.published.length;
    await expect(drill(late.id)).rejects.toMatchObject({ code: 'PITR_TARGET_NOT_ARCHIVED' });
    expect((await stack.catalog.get(late.id))?.lastPitrDrill).toBeUndefined();
    expect(stack.alerts.published.length).toBe(alerts);
    expect(await readdir(parent)).toEqual([]);
    // Out of the way of later drills of `latest`.
    await stack.catalog.transition(late.id, 'FAILED', { reason: 'set aside by the test' });
  }, 120_000);

  it('a long transaction holds the slot back: after the wait the backup takes the bounds instead, and no slot is left', async () => {
    const long = await connectClient(stack.pg.conn);
    try {
      await long.query("BEGIN; INSERT INTO markers VALUES (500, 'long');");
      const session = await openSnapshot(stack.pg.conn, { slotWaitMs: 1000 });
      try {
        expect(session.instant).toMatchObject({ method: 'lsn-bounds' });
      } finally {
        await session.close();
      }
      await long.query('ROLLBACK');
      const exactAgain = await openSnapshot(stack.pg.conn, {});
      try {
        expect(exactAgain.instant).toMatchObject({ method: 'logical-slot' });
      } finally {
        await exactAgain.close();
      }
      // Temporary slots go with their connection.
      const deadline = Date.now() + 30_000;
      while ((await stack.pg.cluster.psql('SELECT count(*) FROM pg_replication_slots;')).trim() !== '0') {
        if (Date.now() > deadline) throw new Error('a replication slot was left behind');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await long.end();
    }
  }, 120_000);

  it('a manifest whose rows were changed (tampering): DRILL_MISMATCH, recorded, VALIDATION_FAILED alert', async () => {
    const original = await stack.storage.getBytes(exact.manifestKey);
    const manifest = JSON.parse(original.toString()) as { tables: Array<{ name: string; rows: number }> };
    const markers = manifest.tables.find((t) => t.name === 'markers')!;
    markers.rows += 1;
    await stack.storage.putBytes(exact.manifestKey, Buffer.from(JSON.stringify(manifest)));
    try {
      const report = await drill(exact.id);
      expect(report).toMatchObject({ ok: false, code: 'DRILL_MISMATCH' });
      expect(report.reason).toContain(`"public"."markers" has ${markers.rows - 1} rows in the recovered cluster, the backup ${markers.rows}`);
      expect((await stack.catalog.get(exact.id))?.lastPitrDrill).toMatchObject({ ok: false, reason: expect.stringContaining('DRILL_MISMATCH') });
      expect(stack.alerts.published.filter((a) => a.type === 'VALIDATION_FAILED' && a.backupId === exact.id)).toEqual([expect.objectContaining({ code: 'DRILL_MISMATCH', severity: 'SEV2' })]);
      expect(await readdir(parent)).toEqual([]);
    } finally {
      await stack.storage.putBytes(exact.manifestKey, original);
    }
  }, 300_000);

  it('one WAL segment in the middle corrupted in storage: recovery stops there, the drill fails with the alert', async () => {
    // The segment's stored bytes, not its JSON record: a flipped byte in the record can land in a
    // field recovery never reads (a timestamp), and the drill then rightly passes.
    const segment = middle[1]!;
    const record = JSON.parse((await stack.storage.getBytes(walRecordKey(WAL_DATABASE, segment))).toString()) as { objectKey: string };
    await flipByte(stack.storage, record.objectKey);
    const before = stack.alerts.published.length;
    const report = await drill(exact.id);
    expect(report).toMatchObject({ ok: false, code: 'RECOVERY_FAILED', comparison: null });
    expect((await stack.catalog.get(exact.id))?.lastPitrDrill).toMatchObject({ ok: false, reason: expect.stringContaining('RECOVERY_FAILED') });
    expect(stack.alerts.published.slice(before).filter((a) => a.type === 'VALIDATION_FAILED')).toEqual([expect.objectContaining({ code: 'RECOVERY_FAILED', backupId: exact.id })]);
    expect(await readdir(parent)).toEqual([]);

    // status: the history of drills, one per logical backup drilled, newest first.
    const status = (await readStatus(stack, { databases: [WAL_DATABASE], now: new Date() })).databases[0]!;
    expect(status.pitrDrills?.map((d) => ({ backupId: d.backupId, ok: d.ok }))).toEqual([{ backupId: exact.id, ok: false }, { backupId: bounded.id, ok: true }]);
    expect(status.pitrDrills?.[1]?.rtoSeconds).toBeGreaterThan(0);
  }, 300_000);
});
