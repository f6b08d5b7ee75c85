/**
 * Point-in-time recovery on real PostgreSQL: a cluster archives through the real endpoint
 * (wal-push scripts, dist/wal.js, the repository folder, both catalogs) under pgbench load;
 * a base backup; marker rows; recovery into new data directories to a time, an LSN, a
 * restore point and a transaction (inclusive and exclusive). A recovered copy archives
 * nothing; a cluster promoted as the primary archives its new timeline, and the live
 * server's timeline (as the checkpoint reads it) decides what plans and status follow.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../shared/adapters/postgres/cluster';
import { prepareEmptyDataDir, socketDirFor, startAndAwaitPromotion, unpackBaseBackup, writeRecoveryConfig } from '../../shared/adapters/postgres/recovery';
import { runAsServerUser } from '../../shared/adapters/postgres/process';
import { pgWalServer } from '../../shared/adapters/postgres/wal-server';
import type { PitrTarget } from '../../shared/domain/wal/pitr-target';
import { walRecordKey } from '../../shared/domain/wal/keys';
import { parseLsn } from '../../shared/domain/wal/names';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import { planRecovery, runPitr, type PitrResult } from '../../shared/usecases/pitr';
import { createNamedRestorePoint } from '../../shared/usecases/restore-point';
import { readStatus } from '../../shared/usecases/status';
import { runWalCheckpoint } from '../../shared/usecases/wal-checkpoint';
import { readArchivedHistory } from '../../shared/usecases/wal-history';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

let stack: WalStack;
let scratch: string;
const recovered: string[] = [];

interface State {
  markers: string;
  accounts: string;
  bulk: string;
}

const STATE_SQL = `SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM markers) || '|' ||
  (SELECT count(*) || ':' || sum(abalance) FROM pgbench_accounts) || '|' ||
  (SELECT count(*) || ':' || coalesce(sum(v), 0) FROM bulk);`;

function parseState(text: string): State {
  const [markers, accounts, bulk] = text.trim().split('|');
  return { markers: markers ?? '', accounts: accounts ?? '', bulk: bulk ?? '' };
}

function pgbench(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', [...args, 'postgres'], { env: toolEnv(stack.pg.conn), stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pgbench ${args.join(' ')} exited ${code}: ${err.slice(-500)}`))));
  });
}

async function recover(target: PitrTarget, options: { exclusive?: boolean; archive?: boolean; timeline?: number } = {}): Promise<{ result: PitrResult; state: State; psql: (sql: string) => Promise<string> }> {
  const pgdata = join(scratch, `recovered-${recovered.length}`);
  recovered.push(pgdata);
  const port = await freePort();
  const result = await runPitr(
    { catalog: stack.catalog, walCatalog: stack.walCatalog, storage: stack.storage, alerts: stack.alerts, log: stack.log, clock: () => new Date(), server: { prepareEmptyDataDir, unpackBaseBackup, writeRecoveryConfig, socketDirFor, startAndAwaitPromotion } },
    {
      database: WAL_DATABASE,
      target,
      exclusive: options.exclusive ?? false,
      ...(options.timeline ? { timeline: options.timeline } : {}),
      pgdata,
      restoreCommand: stack.host.restoreCommand,
      archiveCommand: stack.host.archiveCommand,
      archive: options.archive ?? false,
      start: true,
      port,
      timeoutMs: 120_000,
    },
  );
  const psql = async (sql: string) => {
    const out = await runAsServerUser('psql', ['-X', '-A', '-t', '-h', socketDirFor(pgdata), '-p', String(port), '-d', 'postgres', '-c', sql], { cwd: '/' });
    if (out.code !== 0) throw new Error(`psql on the recovered cluster: ${out.stderr}`);
    return out.stdout.trim();
  };
  return { result, state: parseState(await psql(STATE_SQL)), psql };
}

async function stopRecovered(pgdata: string): Promise<void> {
  await runAsServerUser('/usr/lib/postgresql/15/bin/pg_ctl', ['-D', pgdata, '-m', 'immediate', 'stop'], { cwd: '/' });
}

// What the primary held at each point of the story.
let atMarker1: State;
let targetTime: Date;
let lsnAfterMarker1: string;
let xidOfMarker2: string;

beforeAll(async () => {
  stack = await startWalStack({ settings: { max_wal_size: '256MB' } });
  scratch = await mkdtemp(join(tmpdir(), 'sbx-pitr-'));
  await chmod(scratch, 0o755);
  const sql = (text: string) => stack.pg.cluster.psql(text);
  await pgbench(['-i', '-s', '2', '-q']);
  await sql('CREATE TABLE markers (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp()); CREATE TABLE bulk (id bigserial, v int);');
  const base = await stack.baseBackup();
  expect(base).toMatchObject({ kind: 'base', state: 'VERIFIED' });

  await pgbench(['-c', '2', '-T', '3', '-n']);
  await sql('INSERT INTO markers (id) VALUES (1);');
  lsnAfterMarker1 = (await sql('SELECT pg_current_wal_insert_lsn();')).trim();
  atMarker1 = parseState(await sql(STATE_SQL));
  await createNamedRestorePoint({ walCatalog: stack.walCatalog, server: pgWalServer, clock: () => new Date(), log: stack.log }, { database: WAL_DATABASE, connection: stack.pg.conn, name: 'between-markers' });
  await sleep(300);
  targetTime = new Date();
  await sleep(300);
  xidOfMarker2 = (await sql('BEGIN; INSERT INTO markers (id) VALUES (2); SELECT txid_current(); COMMIT;')).trim();
  await Promise.all([pgbench(['-c', '2', '-T', '3', '-n']), sql('INSERT INTO bulk (v) SELECT g FROM generate_series(1, 300000) g;')]);
  await sql('INSERT INTO markers (id) VALUES (3);');
  await stack.switchAndWait();
}, 240_000);

afterAll(async () => {
  for (const pgdata of recovered) await stopRecovered(pgdata).catch(() => undefined);
  await stack?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('point-in-time recovery', () => {
  it('recovers to a time between two markers as a copy: promoted, archiving nothing, on the live timeline', async () => {
    const { result, state, psql } = await recover({ type: 'time', at: targetTime, assumedUtc: false });

    expect(state).toEqual(atMarker1);
    expect(result.started?.seconds).toBeGreaterThan(0);
    expect(await psql('SELECT pg_is_in_recovery();')).toBe('f');
    // The copy runs on its own timeline 2, but writes nothing into the primary's archive.
    expect(result.started?.timeline).toBe(2);
    expect(result.settings).toMatchObject({ archive_mode: 'off', archive_command: '', recovery_target_timeline: '1' });
    expect(await psql('SHOW archive_mode;')).toBe('off');
    expect(result.recordedLive).toBeUndefined();
    await psql('SELECT pg_switch_wal();');
    expect((await stack.walCatalog.timelines(WAL_DATABASE)).map((t) => t.timeline)).toEqual([1]);
    expect(await stack.walCatalog.getWal(WAL_DATABASE, '00000002.history')).toBeUndefined();
  }, 180_000);

  it('a cluster promoted --as-primary archives its timeline; once the live server is read on timeline 1 again, everything follows timeline 1', async () => {
    const { result, psql } = await recover({ type: 'time', at: targetTime, assumedUtc: false }, { archive: true });
    expect(result.recordedLive).toMatchObject({ timeline: 2 });
    expect(await psql('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8);')).toBe('00000002');
    await psql('SELECT pg_switch_wal();');
    const deadline = Date.now() + 60_000;
    while (!(await stack.walCatalog.getWal(WAL_DATABASE, '00000002.history')) || !(await stack.walCatalog.timelines(WAL_DATABASE)).some((t) => t.timeline === 2)) {
      if (Date.now() > deadline) throw new Error('timeline 2 was not archived');
      await sleep(200);
    }
    // The history file reads back from the archive (the checkpoint's and the planner's source).
    expect(await readArchivedHistory(stack, WAL_DATABASE, 2)).toMatch(/^1\t[0-9A-F]+\/[0-9A-F]+\t/m);
    expect(await readArchivedHistory(stack, WAL_DATABASE, 3)).toBeUndefined();
    // Recorded as the live server: plans and status follow timeline 2 now.
    expect((await planRecovery(stack, WAL_DATABASE, { type: 'latest' })).plan.timelines).toEqual([1, 2]);

    // But the old primary kept running (the trap of issue 13): a restore point made on it after the split...
    await createNamedRestorePoint({ walCatalog: stack.walCatalog, server: pgWalServer, clock: () => new Date(), log: stack.log }, { database: WAL_DATABASE, connection: stack.pg.conn, name: 'after-split' });
    await stack.pg.cluster.psql('INSERT INTO markers (id) VALUES (4);');
    // ... and the WAL checkpoint reads the live server: timeline 1.
    const checkpoint = await runWalCheckpoint(
      { walCatalog: stack.walCatalog, catalog: stack.catalog, server: pgWalServer, alerts: stack.alerts, log: stack.log, clock: () => new Date(), readHistory: (database, timeline) => readArchivedHistory(stack, database, timeline) },
      { database: WAL_DATABASE, connection: stack.pg.conn, waitMs: 60_000, pollMs: 200 },
    );
    expect(checkpoint.status).toMatchObject({ timeline: 1, timelineSource: 'checkpoint' });
    await stack.switchAndWait();

    const latest = await planRecovery(stack, WAL_DATABASE, { type: 'latest' });
    expect(latest.plan.timelines).toEqual([1]);
    // The restore point of the live server plans on its timeline (it was "not archived yet" forever while timeline 2 was followed).
    const byName = await planRecovery(stack, WAL_DATABASE, { type: 'name', name: 'after-split' });
    expect(byName.plan.timelines).toEqual([1]);
    // Asked to follow the copy's timeline, the refusal names both timelines and the flag to use.
    await expect(planRecovery(stack, WAL_DATABASE, { type: 'name', name: 'after-split' }, 2)).rejects.toMatchObject({
      code: 'PITR_TARGET_OFF_TIMELINE',
      message: expect.stringMatching(/made on timeline 1 at .*which timeline 2 left at/),
      hint: expect.stringContaining('--timeline 1'),
    });
    await expect(planRecovery(stack, WAL_DATABASE, { type: 'latest' }, 3)).rejects.toMatchObject({ code: 'PITR_UNKNOWN_TIMELINE', hint: expect.stringContaining('timelines 1 and 2') });

    // Status: both timelines, the live one marked and followed; the RPO is the live server's.
    const report = await readStatus(stack, { databases: [WAL_DATABASE], now: new Date() });
    const status = report.databases[0]!;
    expect(status.liveTimeline).toMatchObject({ timeline: 1, source: 'checkpoint' });
    expect(status.timelines.map((t) => ({ timeline: t.timeline, live: t.live, followed: t.followed, parent: t.parent }))).toEqual([
      { timeline: 1, live: true, followed: true, parent: undefined },
      { timeline: 2, live: false, followed: false, parent: 1 },
    ]);
    expect(status.pitr.timelines).toEqual([1]);
    expect(status.archive.lastArchivedWal?.slice(0, 8)).toBe('00000001');

    // And the recovery itself: the live server's data at that restore point.
    const recoveredByName = await recover({ type: 'name', name: 'after-split' });
    expect(recoveredByName.state.markers).toBe('1,2,3');
    expect(recoveredByName.result.settings.recovery_target_timeline).toBe('1');
  }, 300_000);

  it('recovers to an LSN and to a named restore point', async () => {
    const byLsn = await recover({ type: 'lsn', lsn: parseLsn(lsnAfterMarker1) });
    expect(byLsn.state.markers).toBe('1');

    const byName = await recover({ type: 'name', name: 'between-markers' });
    expect(byName.state).toEqual(atMarker1);
  }, 180_000);

  it('stops after a transaction, or just before it with --exclusive, on the original timeline', async () => {
    // Timeline 2 (promoted in an earlier test) branched off before marker 2: timeline 1 is the live one.
    const inclusive = await recover({ type: 'xid', xid: xidOfMarker2 }, { timeline: 1 });
    expect(inclusive.state.markers).toBe('1,2');

    const exclusive = await recover({ type: 'xid', xid: xidOfMarker2 }, { exclusive: true, timeline: 1 });
    expect(exclusive.state.markers).toBe('1');
  }, 180_000);

  it('names a segment deleted from storage in the dry-run plan, before anything is written', async () => {
    const { plan } = await planRecovery(stack, WAL_DATABASE, { type: 'latest' });
    const victim = plan.wal.last;
    const record = (await stack.walCatalog.getWal(WAL_DATABASE, victim))!;
    await stack.storage.delete([record.objectKey, walRecordKey(WAL_DATABASE, victim)]);

    await expect(planRecovery(stack, WAL_DATABASE, { type: 'latest' })).rejects.toMatchObject({ code: 'WAL_GAP', message: expect.stringContaining(victim) });
  });
});
