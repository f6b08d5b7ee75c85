import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { logMetrics } from '../../shared/adapters/metrics/log-metrics';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import type { BackupKind, Tier } from '../../shared/domain/backup';
import type { DeadmanSchedule } from '../../shared/domain/deadman';
import { backupId } from '../../shared/domain/keys';
import { tierFor } from '../../shared/domain/schedule';
import { WAL_RECORD_FORMAT } from '../../shared/domain/wal/record';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { runDeadman } from '../../shared/usecases/deadman';
import { captureLog } from '../support/stack';

// The switch against a real DynamoDB-compatible catalog (dynalite on 127.0.0.1): what it reads
// through the catalog adapters, and what it publishes and logs.
const NOW = new Date('2026-11-24T12:00:00Z'); // a Tuesday
const DAILY = 'cron(0 3 * * ? *)';
const BASE = 'cron(30 2 * * ? *)';
const HASH = 'a'.repeat(64);

let catalog: Catalog;
let walCatalog: WalCatalog;
let stop: () => Promise<void>;

/** A VERIFIED full backup of `database` that started at `at` (tier from the date, or given). */
async function verified(database: string, kind: BackupKind, at: string, tier?: Tier): Promise<void> {
  const id = backupId(kind, new Date(at), `${database}@${at}`);
  await catalog.create({
    id,
    database,
    kind,
    tier: tier ?? tierFor(new Date(at)),
    scope: 'full',
    state: 'RUNNING',
    key: `${kind}/x/${database}/${id}/dump`,
    manifestKey: `${kind}/x/${database}/${id}/manifest.json`,
    compression: kind === 'base' ? 'zstd' : 'gzip',
    startedAt: at,
    heartbeatAt: at,
  });
  await catalog.transition(id, 'VERIFIED', { bytes: 1000, finishedAt: at });
}

/** 35 nights of logical (03:00) and base (02:30) backups of `database` up to `last` (YYYY-MM-DD). */
async function nights(database: string, last: string, skip: string[] = []): Promise<void> {
  for (let day = 0; day < 35; day++) {
    const date = new Date(Date.parse(`${last}T00:00:00Z`) - day * 86_400_000).toISOString().slice(0, 10);
    if (skip.includes(date)) continue;
    await verified(database, 'logical', `${date}T03:00:04.000Z`);
    await verified(database, 'base', `${date}T02:30:04.000Z`);
  }
}

async function walArrived(database: string, name: string, at: string): Promise<void> {
  await walCatalog.recordWal(
    { format: WAL_RECORD_FORMAT, database, name, kind: 'segment', timeline: 1, objectKey: `wal/${database}/${name}`, compression: 'none', size: 16, sha256: HASH, storedSize: 16, storedSha256: HASH, archivedAt: at },
    at,
  );
}

beforeAll(async () => {
  const dynalite = await startDynalite({});
  stop = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  walCatalog = localWalCatalog(dynalite.endpoint);

  // healthy: every night backed up, WAL flowing, drilled last week.
  await nights('healthy', '2026-11-24');
  await catalog.update(backupId('logical', new Date('2026-11-01T03:00:04.000Z'), 'healthy@2026-11-01T03:00:04.000Z'), { lastValidation: { at: '2026-11-17T10:00:00.000Z', ok: true, seconds: 4 } });
  await walCatalog.putArchiveStatus('healthy', { measuredAt: '2026-11-24T11:45:03.000Z', lastArchivedAt: '2026-11-24T11:45:02.000Z', lastArchivedWal: '000000010000000000000042', lagSeconds: 1 });
  await walArrived('healthy', '000000010000000000000042', '2026-11-24T11:45:04.000Z');

  // silent: tonight's dump missing, archiver stuck for ten minutes, never drilled.
  await nights('silent', '2026-11-24', ['2026-11-24']);
  await walCatalog.putArchiveStatus('silent', { measuredAt: '2026-11-24T11:45:03.000Z', lastArchivedAt: '2026-11-24T11:35:00.000Z', lastArchivedWal: '000000010000000000000007' });
  await walArrived('silent', '000000010000000000000007', '2026-11-24T11:35:01.000Z');
}, 120_000);

afterAll(async () => stop?.());

const schedule = (database: string): DeadmanSchedule => ({ database, logical: DAILY, base: BASE, walArchiving: true, validation: true });

describe('runDeadman on a real catalog', () => {
  it('publishes nothing for a database whose schedules all produced, and records 0 findings', async () => {
    // Prepare
    const alerts = new ConsoleAlertPublisher(() => undefined);
    const log = captureLog();
    // Act
    const report = await runDeadman({ catalog, walCatalog, alerts, log, clock: () => NOW, metrics: logMetrics(log) }, [schedule('healthy')]);
    // Assess
    expect(report).toEqual({ checkedAt: NOW.toISOString(), findings: [] });
    expect(alerts.published).toEqual([]);
    expect(log.lines.filter((l) => l.message === 'metric')).toEqual([{ level: 'INFO', message: 'metric', attributes: { metric: 'DeadmanFindings', value: 0, unit: 'Count' } }]);
  });

  it('alerts DEADMAN_SILENCE once per silence, with the reason, and logs each at WARN', async () => {
    const alerts = new ConsoleAlertPublisher(() => undefined);
    const log = captureLog();
    const report = await runDeadman({ catalog, walCatalog, alerts, log, clock: () => NOW, metrics: logMetrics(log) }, [schedule('healthy'), schedule('silent')]);
    expect(report.findings.map((f) => [f.database, f.code, f.kind ?? null, f.tier ?? null])).toEqual([
      ['silent', 'DEADMAN_BACKUP', 'logical', 'daily'],
      ['silent', 'DEADMAN_BACKUP', 'base', 'daily'],
      ['silent', 'DEADMAN_WAL', null, null],
      ['silent', 'DEADMAN_VALIDATION', null, null],
    ]);
    expect(alerts.published.map((a) => [a.type, a.severity, a.code, a.database, a.at])).toEqual([
      ['DEADMAN_SILENCE', 'SEV2', 'DEADMAN_BACKUP', 'silent', NOW.toISOString()],
      ['DEADMAN_SILENCE', 'SEV2', 'DEADMAN_BACKUP', 'silent', NOW.toISOString()],
      ['DEADMAN_SILENCE', 'SEV2', 'DEADMAN_WAL', 'silent', NOW.toISOString()],
      ['DEADMAN_SILENCE', 'SEV3', 'DEADMAN_VALIDATION', 'silent', NOW.toISOString()],
    ]);
    expect(alerts.published[0]!.message).toContain('no VERIFIED daily logical backup (pg_dump) of silent for the firing due at 2026-11-24T03:00:00.000Z');
    expect(alerts.published[2]!.message).toContain('had archived no WAL since 2026-11-24T11:35:00.000Z');
    expect(log.lines.filter((l) => l.level === 'WARN').map((l) => [l.attributes?.database, l.attributes?.code])).toEqual(report.findings.map((f) => [f.database, f.code]));
    expect(log.lines.find((l) => l.message === 'metric')?.attributes).toMatchObject({ metric: 'DeadmanFindings', value: 4 });
  });

  it('sees a database the catalog has never heard of as silent: once per kind, and no WAL checkpoint', async () => {
    const alerts = new ConsoleAlertPublisher(() => undefined);
    const report = await runDeadman({ catalog, walCatalog, alerts, log: captureLog(), clock: () => NOW }, [{ ...schedule('forgotten'), validation: false }]);
    expect(report.findings.map((f) => `${f.code}:${f.kind ?? ''}:${f.tier ?? ''}`)).toEqual(['DEADMAN_BACKUP:logical:daily', 'DEADMAN_BACKUP:base:daily', 'DEADMAN_WAL_CHECKPOINT::']);
  });

  it('checks the other databases when one cannot be read, then throws', async () => {
    const alerts = new ConsoleAlertPublisher(() => undefined);
    const log = captureLog();
    const broken = { ...schedule('silent'), logical: 'every night' };
    await expect(runDeadman({ catalog, walCatalog, alerts, log, clock: () => NOW }, [broken, schedule('silent')])).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    expect(alerts.published.length).toBe(4);
    expect(log.lines.find((l) => l.level === 'ERROR')).toMatchObject({ message: 'dead man\'s switch could not check a database', attributes: { database: 'silent', code: 'INPUT_INVALID' } });
  });
});
