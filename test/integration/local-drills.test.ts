/**
 * Local mode schedules the monthly drills as the dispatcher does in AWS (shared/local/drill-jobs.ts):
 * on the validation schedule of deploy/schedules.json, for each database, the restore drill of its
 * newest logical backup and the physical drill of a logical backup drawn inside the PITR window.
 * Firing the jobs runs both drills on the local stack — real PostgreSQL 15 archiving through
 * Strongbox's endpoint, the scratch recovered through the database's wal-fetch script — one after
 * the other, each recorded on the backup.
 */
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import schedules from '../../deploy/schedules.json';
import type { BackupEntry } from '../../shared/domain/backup';
import { localDrillJobs } from '../../shared/local/drill-jobs';
import { startScheduler } from '../../shared/local/scheduler';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import type { PitrDrillReport } from '../../shared/usecases/pitr-drill';
import type { ValidationReport } from '../../shared/usecases/validate';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

let stack: WalStack;
let parent: string;
let logical: BackupEntry;

beforeAll(async () => {
  stack = await startWalStack({ settings: { wal_level: 'logical', archive_timeout: '3600s' } });
  parent = await mkdtemp(join(tmpdir(), 'sbx-local-drills-'));
  await chmod(parent, 0o755);
  await stack.pg.cluster.psql('CREATE TABLE drilled (id int PRIMARY KEY, note text); INSERT INTO drilled SELECT g, md5(g::text) FROM generate_series(1, 5000) g;');
  await stack.baseBackup();
  await stack.pg.cluster.psql('INSERT INTO drilled SELECT g, md5(g::text) FROM generate_series(5001, 20000) g;');
  await stack.switchAndWait(180_000);
  logical = await runLogicalBackup(
    { storage: stack.storage, catalog: stack.catalog, alerts: stack.alerts, log: stack.log, clock: () => new Date(), version: 'test', tools: pgDumpTools, heartbeatMs: 500, staleAfterMs: 60_000 },
    { database: WAL_DATABASE, connection: stack.pg.conn, tier: 'daily', compression: 'zstd', includeRolePasswords: false, runner: `pid:${process.pid}` },
  );
  expect(logical.state).toBe('VERIFIED');
  await stack.pg.cluster.psql("INSERT INTO drilled VALUES (0, 'after the backup');");
  await stack.switchAndWait(180_000);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe('local mode: the monthly drills', () => {
  it('are scheduled on the validation schedule (04:00 UTC on the 1st), a restore drill and a physical drill per database', async () => {
    const drills = localDrillJobs({ context: stack.context, databases: [WAL_DATABASE, 'other'], expression: schedules.validation, tmpDir: parent });
    expect(drills.jobs.map((job) => [job.name, job.expression])).toEqual([
      [`restore drill ${WAL_DATABASE}`, 'cron(0 4 1 * ? *)'],
      [`physical drill ${WAL_DATABASE}`, 'cron(0 4 1 * ? *)'],
      ['restore drill other', 'cron(0 4 1 * ? *)'],
      ['physical drill other', 'cron(0 4 1 * ? *)'],
    ]);
    const scheduler = startScheduler(drills.jobs, () => new Date('2026-12-05T10:00:00Z'), stack.log);
    try {
      expect(scheduler.upcoming().map((next) => next.at.toISOString())).toEqual(Array(4).fill('2027-01-01T04:00:00.000Z'));
    } finally {
      await scheduler.stop();
    }
  });

  it('firing them runs both drills on the local stack, one after the other, each recorded on the backup, no alert', async () => {
    const lines: string[] = [];
    const drills = localDrillJobs({ context: stack.context, databases: [WAL_DATABASE], expression: schedules.validation, tmpDir: parent, timeoutMs: 180_000, say: (line) => lines.push(line) });
    const [restore, physical] = drills.jobs;
    const firedAt = new Date();
    const [logicalReport, physicalReport] = (await Promise.all([restore!.run(firedAt), physical!.run(firedAt)])) as [ValidationReport, PitrDrillReport];
    expect(logicalReport).toMatchObject({ ok: true, backupId: logical.id });
    expect(physicalReport.reason).toBeUndefined();
    expect(physicalReport).toMatchObject({ ok: true, backupId: logical.id, instant: { method: 'logical-slot' }, amcheck: { ok: true } });
    expect(physicalReport.comparison?.compared).toBeGreaterThanOrEqual(1);
    // One after the other: the physical drill began once the restore drill had ended.
    expect(Date.parse(physicalReport.at)).toBeGreaterThanOrEqual(Date.parse(logicalReport.at) + logicalReport.seconds * 1000);
    const entry = await stack.catalog.get(logical.id);
    expect(entry?.lastValidation).toMatchObject({ ok: true });
    expect(entry?.lastPitrDrill).toMatchObject({ ok: true, baseBackupId: physicalReport.baseBackupId });
    expect(lines).toEqual([expect.stringMatching(/restore drill of app, backup .*: OK/), expect.stringMatching(/physical drill of app to the instant of backup .*: OK, RTO/)]);
    expect(stack.alerts.published.filter((a) => a.type === 'VALIDATION_FAILED')).toEqual([]);
    expect(await readdir(parent)).toEqual([]);
  }, 300_000);

  it('a stop aborts what is queued: the drill records nothing', async () => {
    const drills = localDrillJobs({ context: stack.context, databases: [WAL_DATABASE], expression: schedules.validation, tmpDir: parent });
    const before = (await stack.catalog.get(logical.id))?.lastPitrDrill;
    drills.abort();
    await expect(drills.jobs[1]!.run(new Date())).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect((await stack.catalog.get(logical.id))?.lastPitrDrill).toEqual(before);
  });
});
