import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient, makeDynamoDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { currentWal, pgWalServer, switchWal } from '../../shared/adapters/postgres/wal-server';
import type { PgConnection } from '../../shared/ports/postgres';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import type { BackupEntry } from '../../shared/domain/backup';
import { backupId } from '../../shared/domain/keys';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { checkpointPointName, runWalCheckpoint, type WalCheckpointDeps } from '../../shared/usecases/wal-checkpoint';
import { startArchivingCluster, startIndexer, type ArchivingCluster } from '../support/archiving-cluster';
import { captureLog } from '../support/stack';

let good: ArchivingCluster;
let failing: ArchivingCluster;
let catalog: Catalog;
let walCatalog: WalCatalog;
let stopCatalog: () => Promise<void>;

beforeAll(async () => {
  const [a, b, dynalite] = await Promise.all([startArchivingCluster({ mode: 'copy' }), startArchivingCluster({ mode: 'fail' }), startDynalite({})]);
  good = a;
  failing = b;
  stopCatalog = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  walCatalog = new DynamoWalCatalog(makeDynamoDocumentClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
});

afterAll(async () => {
  await Promise.all([good?.stop(), failing?.stop(), stopCatalog?.()]);
});

function deps(clock: () => Date = () => new Date()): WalCheckpointDeps & { alerts: ConsoleAlertPublisher; log: ReturnType<typeof captureLog> } {
  return { walCatalog, catalog, server: pgWalServer, alerts: new ConsoleAlertPublisher(() => undefined), log: captureLog(), clock };
}

/** A VERIFIED base backup of `database` that starts at the cluster's current position. */
async function seedBaseBackup(database: string, conn: PgConnection, state: BackupEntry['state'] = 'VERIFIED'): Promise<{ id: string; startLsn: string }> {
  const position = await currentWal(conn);
  const at = new Date();
  const id = backupId('base', at, `${database}-${position.lsn}-${state}`);
  const entry = {
    id,
    database,
    kind: 'base',
    tier: 'manual',
    scope: 'full',
    state,
    key: `base/manual/${database}/${id}/base.tar.zst`,
    manifestKey: `base/manual/${database}/${id}/manifest.json`,
    compression: 'zstd',
    startedAt: at.toISOString(),
    heartbeatAt: at.toISOString(),
    base: { startLsn: position.lsn, stopLsn: position.lsn, timeline: position.timeline },
  } as BackupEntry;
  await catalog.create(entry);
  return { id, startLsn: position.lsn };
}

describe('runWalCheckpoint', () => {
  it('healthy archiving: a restore point, a switch archived within seconds, no hole since the base backup, no alert', async () => {
    // Prepare
    const base = await seedBaseBackup('app1', good.conn);
    const stopIndexer = startIndexer(good, walCatalog, 'app1');
    const d = deps();

    // Act
    const result = await runWalCheckpoint(d, { database: 'app1', connection: good.conn, waitMs: 20_000, pollMs: 100, indexGraceMs: 2_000 }).finally(stopIndexer);

    // Assess
    expect(result.archived).toBe(true);
    expect(result.lagSeconds!).toBeGreaterThanOrEqual(0);
    expect(result.lagSeconds!).toBeLessThan(20);
    expect(result.alerts).toEqual([]);
    expect(d.alerts.published).toEqual([]);
    expect(result.gap).toMatchObject({ checked: true, baseBackupId: base.id, missing: [] });
    expect(result.restorePoint!.name).toMatch(/^strongbox-\d{8}T\d{6}Z$/);
    expect(await walCatalog.getRestorePoint('app1', result.restorePoint!.name)).toEqual(result.restorePoint);
    expect(await good.archived()).toContain(result.switched.segment);
    const status = await walCatalog.getArchiveStatus('app1');
    expect(status).toMatchObject({ lastArchivedWal: result.switched.segment, lagSeconds: result.lagSeconds, failedCount: 0, gaps: [], gapSegments: 0, gapRanges: 0 });
    expect(d.log.lines.some((line) => line.message === 'WAL continuity checked' && line.attributes?.missing === 0)).toBe(true);
  });

  it('a hole in the archive since the base backup: SEV2 WAL_GAP naming the missing segment', async () => {
    // Prepare: three switches after the base backup; the middle segment never reaches the catalog
    await seedBaseBackup('app2', good.conn);
    const switched = [];
    for (let i = 0; i < 3; i++) {
      switched.push(await switchWal(good.conn));
      await good.waitArchived(switched[i]!.segment);
    }
    const hole = switched[1]!.segment;
    const stopIndexer = startIndexer(good, walCatalog, 'app2', new Set([hole]));
    const d = deps();

    // Act
    const result = await runWalCheckpoint(d, { database: 'app2', connection: good.conn, waitMs: 20_000, pollMs: 100, indexGraceMs: 500 }).finally(stopIndexer);

    // Assess
    expect(result.gap.missing).toEqual([{ first: hole, last: hole, count: 1 }]);
    expect(result.alerts).toEqual(['WAL_GAP']);
    expect(d.alerts.published).toHaveLength(1);
    expect(d.alerts.published[0]).toMatchObject({ type: 'WAL_GAP', severity: 'SEV2', database: 'app2', code: 'WAL_GAP' });
    expect(d.alerts.published[0]!.message).toContain(`${hole} (1 segment)`);
    expect(d.alerts.published[0]!.hint).toMatch(/take a new base backup/);
    // The status item holds runs and counts, never every name.
    expect(await walCatalog.getArchiveStatus('app2')).toMatchObject({ gaps: [{ first: hole, last: hole, count: 1 }], gapSegments: 1, gapRanges: 1 });
  });

  it('no VERIFIED base backup yet: a warning in the result, no alert', async () => {
    await seedBaseBackup('app3', good.conn, 'FAILED');
    const d = deps();

    const result = await runWalCheckpoint(d, { database: 'app3', connection: good.conn, waitMs: 20_000, pollMs: 100 });

    expect(result.archived).toBe(true);
    expect(result.gap.checked).toBe(false);
    expect(result.warnings.join('\n')).toMatch(/no VERIFIED base backup of app3 yet/);
    expect(d.alerts.published).toEqual([]);
  });

  it('archive_command failing: SEV2 ARCHIVE_FAILING with the fix-before-the-disk-fills hint, without waiting the whole wait', async () => {
    const d = deps();
    const started = Date.now();

    const result = await runWalCheckpoint(d, { database: 'app4', connection: failing.conn, waitMs: 50_000, pollMs: 100 });

    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.archived).toBe(false);
    expect(result.lagSeconds).toBeUndefined();
    expect(result.archiver.failedCount).toBeGreaterThanOrEqual(3);
    expect(result.alerts).toContain('ARCHIVE_FAILING');
    const alert = d.alerts.published.find((a) => a.type === 'ARCHIVE_FAILING')!;
    expect(alert).toMatchObject({ severity: 'SEV2', database: 'app4' });
    expect(alert.message).toContain(result.switched.segment);
    expect(alert.hint).toContain('before pg_wal fills the disk');
    expect(await walCatalog.getArchiveStatus('app4')).toMatchObject({ failedCount: result.archiver.failedCount, lastFailedWal: result.switched.segment });
  });

  it('archived slower than the RPO: SEV2 ARCHIVE_LAG with the measured lag', async () => {
    // A clock that moves 2 s on each reading: the measured lag is a few seconds, over a 1 s RPO.
    let now = Date.parse('2026-11-24T03:15:00Z');
    const d = deps(() => new Date((now += 2_000)));

    const result = await runWalCheckpoint(d, { database: 'app5', connection: good.conn, waitMs: 600_000, pollMs: 100, rpoSeconds: 1 });

    expect(result.archived).toBe(true);
    expect(result.lagSeconds!).toBeGreaterThan(1);
    expect(result.alerts).toContain('ARCHIVE_LAG');
    expect(d.alerts.published.find((a) => a.type === 'ARCHIVE_LAG')!.message).toMatch(/took \d+ s to be archived, over the 1 s RPO/);
    expect(result.restorePoint!.name).toBe('strongbox-20261124T031502Z');
  });

  it('archived slower than a minute but within the RPO: a SEV4 ARCHIVE_LAG_WARNING, no ARCHIVE_LAG', async () => {
    // A clock that moves 61 s on each reading: the measured lag is over a minute, within a day-long RPO.
    let now = Date.parse('2026-11-24T03:30:00Z');
    const d = deps(() => new Date((now += 61_000)));

    const result = await runWalCheckpoint(d, { database: 'app5', connection: good.conn, waitMs: 6_000_000, pollMs: 100, rpoSeconds: 86_400 });

    expect(result.lagSeconds!).toBeGreaterThan(60);
    expect(result.alerts).toEqual(['ARCHIVE_LAG_WARNING']);
    expect(d.alerts.published).toEqual([
      expect.objectContaining({ type: 'ARCHIVE_LAG_WARNING', severity: 'SEV4', database: 'app5', message: expect.stringMatching(/took \d+ s to be archived: over 60 s, still within the 86400 s RPO/) }),
    ]);
  });

  it('an unreachable database: SEV2 WAL_CHECKPOINT_FAILED, then the error', async () => {
    const d = deps();
    await expect(runWalCheckpoint(d, { database: 'app6', connection: { ...good.conn, port: 1 }, waitMs: 1_000 })).rejects.toMatchObject({ code: 'DB_UNREACHABLE' });
    expect(d.alerts.published.map((a) => [a.type, a.severity, a.code])).toEqual([['WAL_CHECKPOINT_FAILED', 'SEV2', 'DB_UNREACHABLE']]);
  });
});

describe('checkpointPointName', () => {
  it('is strongbox-<UTC basic ISO to the second>', () => {
    expect(checkpointPointName(new Date('2026-01-02T03:04:05.678Z'))).toBe('strongbox-20260102T030405Z');
  });
});
