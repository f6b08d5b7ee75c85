/**
 * 200 databases on dynalite (issue 16 point 4): the dead man's switch checks every one of
 * them (8 at a time; one at a time alongside, as the baseline) and the watchdog fails 200
 * dead 03:00 dumps, each reporting how long it took — measured, not asserted against a
 * clock: the figures go to docs/deploy.md against the functions' timeouts (60 s each).
 */
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import type { BackupEntry } from '../../shared/domain/backup';
import { deadmanSchedulesOf, type DeployConfig } from '../../shared/domain/deploy-config';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { runDeadman } from '../../shared/usecases/deadman';
import { readAndPlan } from '../../shared/usecases/retention';
import { readStatus } from '../../shared/usecases/status';
import { DEFAULT_RETENTION_POLICY } from '../../shared/domain/retention';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { failStaleBackups } from '../../shared/usecases/watchdog';
import { captureLog } from '../support/stack';

const DATABASES = 200;
const DAY = 86_400_000;
const NOW = new Date('2026-12-04T12:00:00.000Z');
const names = Array.from({ length: DATABASES }, (_, i) => `customer_db_${String(i).padStart(3, '0')}`);
const config: DeployConfig = {
  databases: names.map((name) => ({ name, secretArn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/prod/${name}-AbCdEf`, schedule: 'cron(0 3 * * ? *)' })),
  baseBackup: 'cron(30 2 * * ? *)',
  walCheckpoint: 'rate(15 minutes)',
  validation: 'cron(0 4 1 * ? *)',
};

let stop: (() => Promise<void>) | undefined;
let catalog: Catalog;
let walCatalog: WalCatalog;

function entry(database: string, kind: 'logical' | 'base', at: Date, state: BackupEntry['state'], heartbeatAt = at): BackupEntry {
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  const id = `${database}-${stamp}-${kind[0]}`;
  const folder = `${kind}/daily/${database}/${id}`;
  return { id, database, kind, tier: 'daily', scope: 'full', state, key: `${folder}/dump`, manifestKey: `${folder}/manifest.json`, compression: 'gzip', bytes: 1000, startedAt: at.toISOString(), ...(state === 'RUNNING' ? {} : { finishedAt: at.toISOString() }), heartbeatAt: heartbeatAt.toISOString() };
}

const seconds = (since: bigint) => (Number(process.hrtime.bigint() - since) / 1e9).toFixed(2);

beforeAll(async () => {
  const dynalite = await startDynalite({});
  stop = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  walCatalog = localWalCatalog(dynalite.endpoint);
  // Each database: 7 days of VERIFIED dumps and base backups, a checkpoint 10 minutes ago.
  for (const name of names) {
    const entries = Array.from({ length: 7 }, (_, day) => [
      entry(name, 'logical', new Date(Date.parse('2026-12-04T03:00:00Z') - day * DAY), 'VERIFIED'),
      entry(name, 'base', new Date(Date.parse('2026-12-04T02:30:00Z') - day * DAY), 'VERIFIED'),
    ]).flat();
    await Promise.all([...entries.map((item) => catalog.create(item)), walCatalog.putArchiveStatus(name, { measuredAt: new Date(NOW.getTime() - 600_000).toISOString() })]);
  }
}, 300_000);

afterAll(async () => stop?.());

describe(`${DATABASES} databases on dynalite`, () => {
  it('the dead man\'s switch checks all of them, 8 at a time (and one at a time as the baseline)', async () => {
    // Prepare
    const schedules = deadmanSchedulesOf(config);
    const run = async (concurrency: number) => {
      const log = captureLog();
      const alerts = new ConsoleAlertPublisher(() => undefined);
      const started = process.hrtime.bigint();
      const report = await runDeadman({ catalog, walCatalog, alerts, log, clock: () => NOW }, schedules, undefined, concurrency);
      return { report, log, alerts, seconds: seconds(started) };
    };
    // Act
    const sequential = await run(1);
    const bounded = await run(8);
    // Assess: every database checked; no WAL ever arrived, so each one's WAL silence (and the
    // weekly and monthly tiers its daily-only dumps lack).
    for (const { report, log } of [sequential, bounded]) {
      expect(log.lines.find((line) => line.message === 'dead man\'s switch checked')?.attributes).toMatchObject({ databases: DATABASES });
      expect(log.lines.filter((line) => line.level === 'ERROR')).toEqual([]);
      expect(new Set(report.findings.map((finding) => finding.database)).size).toBe(DATABASES);
      expect(new Set(report.findings.filter((finding) => finding.code === 'DEADMAN_WAL').map((finding) => finding.database)).size).toBe(DATABASES);
    }
    expect(bounded.report.findings.map((f) => `${f.database}:${f.code}`)).toEqual(sequential.report.findings.map((f) => `${f.database}:${f.code}`));
    console.log(`deadman over ${DATABASES} databases on dynalite: ${sequential.seconds} s one at a time, ${bounded.seconds} s 8 at a time (timeout 60 s)`);
  }, 300_000);

  it('the retention sweep reads and plans all of them in one run', async () => {
    // Prepare
    const log = captureLog();
    const started = process.hrtime.bigint();
    // Act
    const { plan } = await readAndPlan({ storage: new FolderStorage(tmpdir()), catalog, walCatalog, log, alerts: new ConsoleAlertPublisher(() => undefined), clock: () => NOW }, { policy: DEFAULT_RETENTION_POLICY, dryRun: true }, NOW);
    // Assess
    const took = seconds(started);
    expect(new Set(plan.decisions.map((decision) => decision.database)).size).toBe(DATABASES);
    console.log(`retention: the sweep's plan over ${DATABASES} databases (${plan.decisions.length} backups) read and made in ${took} s (timeout 900 s)`);
  }, 300_000);

  it('status of all of them reads the WAL view once it is complete: a handful of requests, the same answers', async () => {
    // Prepare: every item was written by this version, so the view is complete once marked.
    const storage = new FolderStorage(tmpdir());
    const log = captureLog();
    // The same catalog without its view: what status read before it, database by database.
    const withoutView = new Proxy(walCatalog, { get: (target, property) => (property === 'readViews' ? undefined : (Reflect.get(target, property, target) as unknown)) });
    const byDatabase = await readStatus({ catalog, walCatalog: withoutView, storage, log }, { databases: names, now: NOW });
    await walCatalog.markViewComplete!(NOW.toISOString());
    // Act
    const started = process.hrtime.bigint();
    const fromView = await readStatus({ catalog, walCatalog, storage, log }, { databases: names, now: NOW });
    const took = seconds(started);
    // Assess
    expect(fromView.databases).toEqual(byDatabase.databases);
    expect(fromView.databases.every((status) => status.archive.measuredAt === new Date(NOW.getTime() - 600_000).toISOString())).toBe(true);
    expect(byDatabase.reads.requests).toBeGreaterThanOrEqual(2 * DATABASES);
    expect(fromView.reads.requests).toBeLessThanOrEqual(20);
    console.log(`status of ${DATABASES} databases: ${fromView.reads.requests} requests from the WAL view in ${took} s, ${byDatabase.reads.requests} database by database`);
  }, 300_000);

  it('the watchdog fails 200 dumps dead since 03:00 in one run', async () => {
    // Prepare: every database's 03:00 dump on 2026-12-05 stopped heart-beating at 03:01.
    const at = new Date('2026-12-05T03:00:00Z');
    await Promise.all(names.map((name) => catalog.create(entry(name, 'logical', at, 'RUNNING', new Date(at.getTime() + 60_000)))));
    const log = captureLog();
    const alerts = new ConsoleAlertPublisher(() => undefined);
    const started = process.hrtime.bigint();
    // Act
    const failed = await failStaleBackups({ catalog, alerts, log, clock: () => new Date('2026-12-05T03:30:00Z') }, 600_000);
    // Assess
    const took = seconds(started);
    expect(failed).toHaveLength(DATABASES);
    expect(alerts.published).toHaveLength(DATABASES);
    expect(await catalog.listByState('RUNNING')).toEqual([]);
    console.log(`watchdog: ${DATABASES} stale RUNNING backups failed in ${took} s (timeout 60 s)`);
  }, 300_000);
});
