/**
 * Retention of base backups, WAL and restore points on real servers: dynalite for both
 * catalogs and a repository folder for the objects. The archive: 40 segments on timeline
 * 1, one every 6 hours up to now; base backups before, across and inside the PITR window.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { S3Storage } from '../../shared/adapters/storage/s3';
import type { ObjectInfo, Storage } from '../../shared/ports/storage';
import type { BackupEntry, Tier } from '../../shared/domain/backup';
import { parseRetentionPolicy } from '../../shared/domain/retention';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { formatLsn, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { StorageError } from '../../shared/errors';
import type { Alert } from '../../shared/ports';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { applyRetention, type RetentionDeps } from '../../shared/usecases/retention';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog, type CapturedLog } from '../support/stack';

const HOUR = 3_600_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');
const STEP = 6 * HOUR;
const SEGMENTS = 40;
/** walDays 4 and dailyDays 3: the anchor is a daily past its tier's window, kept for PITR. */
const POLICY = parseRetentionPolicy({ walDays: 4, dailyDays: 3, restorePointHours: 24 });
const doneAt = (s: number) => new Date(NOW.getTime() - (SEGMENTS - s) * STEP - HOUR);

let dynalite: DynaliteServer;
let client: DynamoDBClient;
let root: string;
let table = 0;
let storage: Storage;
let catalog: DynamoCatalog;
let walCatalog: DynamoWalCatalog;
let log: CapturedLog;
let alerts: Alert[];

function deps(overrides: Partial<RetentionDeps> = {}): RetentionDeps {
  return { storage, catalog, walCatalog, log, alerts: { publish: async (alert) => void alerts.push(alert) }, clock: () => NOW, ...overrides };
}

async function archiveSegment(s: number): Promise<void> {
  const name = segmentName(1, BigInt(s));
  const objectKey = walObjectKey('app', name, 'zstd');
  await storage.putBytes(objectKey, `segment ${s}`);
  const record: WalRecord = {
    format: WAL_RECORD_FORMAT,
    database: 'app',
    name,
    kind: 'segment',
    timeline: 1,
    segno: String(s),
    startLsn: formatLsn(segmentStartLsn(BigInt(s))),
    endLsn: formatLsn(segmentStartLsn(BigInt(s + 1))),
    objectKey,
    compression: 'zstd',
    size: 16 * 1024 * 1024,
    sha256: 'a'.repeat(64),
    storedSize: 100,
    storedSha256: 'b'.repeat(64),
    systemId: '7311234567890123456',
    archivedAt: doneAt(s).toISOString(),
  };
  await storage.putBytes(walRecordKey('app', name), JSON.stringify(record));
  await walCatalog.recordWal(record, doneAt(s).toISOString());
}

/** A VERIFIED base backup from segment `start` to `stop`, with its two objects. */
async function baseBackup(id: string, tier: Tier, start: number, stop: number, walIncluded: boolean): Promise<BackupEntry> {
  const folder = `base/${tier}/app/${id}/`;
  const entry: BackupEntry = {
    id,
    database: 'app',
    kind: 'base',
    tier,
    scope: 'full',
    state: 'VERIFIED',
    key: `${folder}dump.zst`,
    manifestKey: `${folder}manifest.json`,
    compression: 'zstd',
    startedAt: new Date(doneAt(start - 1).getTime() + 60_000).toISOString(),
    finishedAt: doneAt(stop).toISOString(),
    heartbeatAt: doneAt(stop).toISOString(),
    base: {
      startLsn: formatLsn(segmentStartLsn(BigInt(start)) + 40n),
      stopLsn: formatLsn(segmentStartLsn(BigInt(stop)) + 100n),
      timeline: 1,
      stopTimeline: 1,
      systemId: '7311234567890123456',
      pgVersion: 15,
      walSegments: { first: segmentName(1, BigInt(start)), last: segmentName(1, BigInt(stop)) },
      label: '',
      walIncluded,
    },
  };
  await storage.putBytes(entry.key, `base ${id}`);
  await storage.putBytes(entry.manifestKey, '{}');
  await catalog.create(entry);
  return entry;
}

/** A VERIFIED logical backup `daysAgo` old with its three objects. */
async function logical(id: string, tier: Tier, daysAgo: number): Promise<BackupEntry> {
  const folder = `logical/${tier}/app/${id}/`;
  const startedAt = new Date(NOW.getTime() - daysAgo * 24 * HOUR).toISOString();
  const entry: BackupEntry = { id, database: 'app', kind: 'logical', tier, scope: 'full', state: 'VERIFIED', key: `${folder}dump`, manifestKey: `${folder}manifest.json`, globalsKey: `${folder}globals.sql`, compression: 'gzip', startedAt, heartbeatAt: startedAt };
  for (const key of [entry.key, entry.manifestKey, entry.globalsKey!]) await storage.putBytes(key, `${id} ${key}`);
  await catalog.create(entry);
  return entry;
}

async function segmentsLeft(): Promise<number[]> {
  return (await walCatalog.listSegments('app', 1)).map((record) => Number(record.segno));
}

async function objectsLeft(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of storage.list(prefix)) keys.push(info.key);
  return keys;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeAll(async () => {
  dynalite = await startDynalite({});
  client = makeDynamoClient({ endpoint: dynalite.endpoint });
});
afterAll(async () => {
  client?.destroy();
  await dynalite?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A fresh table and `into` (a fresh folder by default): the archive, four base backups, two logical ones, restore points. */
async function seed(into?: Storage): Promise<void> {
  table += 1;
  await ensureCatalogTable(client, `ret${table}`);
  catalog = new DynamoCatalog(toDocumentClient(client), `ret${table}`);
  walCatalog = new DynamoWalCatalog(toDocumentClient(client), `ret${table}`, { pageSize: 7 });
  if (root) await rm(root, { recursive: true, force: true });
  root = await mkdtemp(join(tmpdir(), 'strongbox-retention-wal-'));
  storage = into ?? new FolderStorage(root);
  log = captureLog();
  alerts = [];
  for (const s of range(1, SEGMENTS)) await archiveSegment(s);
  await baseBackup('b-monthly', 'monthly', 2, 3, false); // old, kept by its tier: its WAL 2..3 stays
  await baseBackup('b-old-daily', 'daily', 6, 6, false); // past 3 days, not needed: deleted, and its WAL
  await baseBackup('b-anchor', 'daily', 20, 21, true); // ended 4.75 days ago, before the window (4 days)
  await baseBackup('b-recent', 'daily', 32, 32, true); // inside the window
  await logical('l-monthly', 'monthly', 9);
  await logical('l-daily', 'daily', 0.5);
  for (const [name, hoursAgo] of [['rp-fresh', 1], ['rp-day', 23], ['rp-old', 30]] as const) {
    await walCatalog.recordRestorePoint('app', { name, lsn: '0/30000000', timeline: 1, createdAt: new Date(NOW.getTime() - hoursAgo * HOUR).toISOString() });
  }
}

describe('retention of base backups, WAL and restore points', () => {
  beforeEach(async () => seed());

  it('plans a cut-off at the anchor\'s start, keeps the base backups the window needs, and changes nothing in a dry run', async () => {
    // Act
    const report = await applyRetention(deps(), { policy: POLICY, dryRun: true });
    // Assess
    const rules = Object.fromEntries([...report.kept, ...report.deleted, ...report.cold].map((line) => [line.id, line.rule]));
    expect(rules).toEqual({ 'b-monthly': 'WITHIN_WINDOW', 'b-old-daily': 'PAST_WINDOW', 'b-anchor': 'PITR_ANCHOR', 'b-recent': 'PITR_WINDOW', 'l-monthly': 'COLD_STORAGE', 'l-daily': 'NEWEST_VERIFIED' });
    expect(report.wal).toEqual([
      expect.objectContaining({ database: 'app', action: 'delete', rule: 'WAL_CUTOFF', anchors: ['b-anchor'], timelines: [{ timeline: 1, deleteBelow: segmentName(1, 20n) }], keep: [{ first: '0000000000000002', last: '0000000000000003', backupId: 'b-monthly' }], segments: 19 }),
    ]);
    expect(report.restorePoints.deleted.map((point) => point.name)).toEqual(['rp-old']);
    expect(report.restorePoints.kept).toBe(2);
    expect(await segmentsLeft()).toEqual(range(1, SEGMENTS));
    expect(await catalog.get('b-old-daily')).toMatchObject({ state: 'VERIFIED' });
    expect(await walCatalog.getRetentionMark('app')).toBeUndefined();
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'retention WAL decision', attributes: expect.objectContaining({ rule: 'WAL_CUTOFF', anchors: ['b-anchor'] }) }));
  });

  it('applies it: WAL objects, records and items below the cut-off go (but the kept base backup\'s), the monthly moves to cold/, and a second run does nothing', async () => {
    // Act
    const report = await applyRetention(deps(), { policy: POLICY, dryRun: false, walBatch: 5 });
    const again = await applyRetention(deps(), { policy: POLICY, dryRun: false, walBatch: 5 });
    // Assess
    const expected = [2, 3, ...range(20, SEGMENTS)];
    expect(await segmentsLeft()).toEqual(expected);
    const objects = await objectsLeft('wal/app/');
    expect(objects).toHaveLength(expected.length * 2);
    expect(objects).toContain(walRecordKey('app', segmentName(1, 2n)));
    expect(objects).not.toContain(walObjectKey('app', segmentName(1, 19n), 'zstd'));
    expect(report.wal[0]).toMatchObject({ rule: 'WAL_CUTOFF', segments: 17, bytes: 1700, locked: 0 });
    expect(report.deleted.map((line) => line.id)).toEqual(['b-old-daily']);
    expect(await catalog.get('b-old-daily')).toBeUndefined();
    expect(await objectsLeft('base/daily/app/b-old-daily/')).toEqual([]);
    expect(report.cold).toEqual([expect.objectContaining({ id: 'l-monthly', moved: true })]);
    await stat(join(root, 'cold/logical/monthly/app/l-monthly/dump'));
    expect((await storage.getBytes('logical/monthly/app/l-monthly/dump')).toString()).toContain('l-monthly');
    expect((await walCatalog.listRestorePoints('app')).map((point) => point.name)).toEqual(['rp-fresh', 'rp-day']);
    expect(await walCatalog.getRetentionMark('app')).toBeUndefined();
    expect(again.deleted).toEqual([]);
    expect(again.wal[0]).toMatchObject({ segments: 0, bytes: 0 });
    expect(again.cold).toEqual([expect.objectContaining({ id: 'l-monthly' })]);
    expect(again.cold[0]?.moved).toBeUndefined();
    expect(again.restorePoints.deleted).toEqual([]);
    expect(await segmentsLeft()).toEqual(expected);
  });

  it('deletes a .partial below the cut-off, and keeps a record naming an object outside its archive (and that object)', async () => {
    // Prepare: a partial of segment 10, and a forged record of segment 11's partial pointing at a base backup's dump
    const partial = `${segmentName(1, 10n)}.partial`;
    const forged = `${segmentName(1, 11n)}.partial`;
    const record = (name: string, objectKey: string): WalRecord => ({ format: WAL_RECORD_FORMAT, database: 'app', name, kind: 'partial', timeline: 1, segno: '10', objectKey, compression: 'zstd', size: 1, sha256: 'c'.repeat(64), storedSize: 7, storedSha256: 'd'.repeat(64), systemId: '7311234567890123456', archivedAt: doneAt(10).toISOString() });
    await storage.putBytes(walObjectKey('app', partial, 'zstd'), 'partial');
    await walCatalog.recordWal(record(partial, walObjectKey('app', partial, 'zstd')), doneAt(10).toISOString());
    await walCatalog.recordWal(record(forged, 'base/daily/app/b-anchor/dump.zst'), doneAt(11).toISOString());
    // Act
    await applyRetention(deps(), { policy: POLICY, dryRun: false, walBatch: 5 });
    // Assess
    expect(await walCatalog.getWal('app', partial)).toBeUndefined();
    expect(await storage.head(walObjectKey('app', partial, 'zstd'))).toBeUndefined();
    expect(await walCatalog.getWal('app', forged)).toBeDefined();
    expect(await storage.head('base/daily/app/b-anchor/dump.zst')).toBeDefined();
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'retention: a WAL record names an object outside its archive: kept', attributes: expect.objectContaining({ segment: forged }) }));
  });

  it('a run that stops after the mark leaves it, and the next run finishes it first', async () => {
    // Prepare: storage deletes fail from the second call on (the first WAL batch's records go)
    let calls = 0;
    const failing = new Proxy(storage, {
      get(target, property) {
        if (property === 'delete') {
          return async (keys: readonly string[]) => {
            calls += 1;
            if (calls >= 2) throw new StorageError('the disk went away', 'check the repository folder');
            return target.delete(keys);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // Act
    const broken = await applyRetention(deps({ storage: failing }), { policy: POLICY, dryRun: false, walBatch: 5 });
    const mark = await walCatalog.getRetentionMark('app');
    const finished = await applyRetention(deps(), { policy: POLICY, dryRun: false, walBatch: 5 });
    // Assess
    expect(broken.failed.map((line) => line.id).sort()).toEqual(['b-old-daily', 'wal:app']);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ type: 'RETENTION_FAILED', severity: 'SEV3' });
    expect(mark).toMatchObject({ rule: 'WAL_CUTOFF', timelines: [{ timeline: 1, deleteBelow: segmentName(1, 20n) }] });
    expect(finished.wal.map((line) => line.rule)).toEqual(['FINISH_DELETION', 'WAL_CUTOFF']);
    expect(finished.deleted).toEqual([expect.objectContaining({ id: 'b-old-daily', rule: 'FINISH_DELETION' })]);
    expect(await segmentsLeft()).toEqual([2, 3, ...range(20, SEGMENTS)]);
    expect(await objectsLeft('wal/app/')).toHaveLength((SEGMENTS - 17) * 2);
    expect(await walCatalog.getRetentionMark('app')).toBeUndefined();
  });

  it('keeps what Object Lock holds until its retain-until date, and reports it', async () => {
    // Prepare: a storage double whose HEAD reports retention on segments 12 and later and on the old daily's dump
    const lockedUntil = new Date(NOW.getTime() + 10 * 24 * HOUR);
    const lockedKey = (key: string) => key === 'base/daily/app/b-old-daily/dump.zst' || (key.startsWith('wal/app/') && key.endsWith('.zst') && Number.parseInt(key.slice(-12, -4), 16) >= 12);
    const locking: Storage = new Proxy(storage, {
      get(target, property) {
        if (property === 'head') {
          return async (key: string): Promise<ObjectInfo | undefined> => {
            const info = await target.head(key);
            return info && lockedKey(key) ? { ...info, retainUntil: lockedUntil } : info;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // Act
    const plan = await applyRetention(deps({ storage: locking }), { policy: POLICY, dryRun: true });
    const report = await applyRetention(deps({ storage: locking }), { policy: POLICY, dryRun: false, walBatch: 5 });
    // Assess
    expect(plan.deleted).toEqual([]);
    expect(plan.locked).toEqual([expect.objectContaining({ id: 'b-old-daily', rule: 'OBJECT_LOCKED', retainUntil: lockedUntil.toISOString() })]);
    expect(report.locked.map((line) => line.id)).toEqual(['b-old-daily']);
    expect((await catalog.get('b-old-daily'))?.deleting).toBeUndefined();
    expect(await segmentsLeft()).toEqual([2, 3, ...range(12, SEGMENTS)]);
    expect(report.wal[0]?.locked).toBeGreaterThan(0);
    expect(await walCatalog.getRetentionMark('app')).toBeDefined();
    expect(report.notes.join('\n')).toMatch(/Object Lock/);
  });

  it('without a WAL catalog keeps base backups and WAL, as before WAL archiving', async () => {
    // Act
    const { walCatalog: _none, ...withoutWal } = deps();
    const report = await applyRetention(withoutWal, { policy: POLICY, dryRun: false });
    // Assess
    expect(report.kept.filter((line) => line.id.startsWith('b-')).map((line) => line.rule)).toEqual(['NOT_PLANNED_YET', 'NOT_PLANNED_YET', 'NOT_PLANNED_YET', 'NOT_PLANNED_YET']);
    expect(report.wal).toEqual([]);
    expect(await segmentsLeft()).toEqual(range(1, SEGMENTS));
  });
});

describe('retention of WAL on S3 (s3rver): DeleteObjects in batches, cold only reported', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    s3 = await startS3Server('retention-wal');
    await seed(new S3Storage(s3.client, s3.bucket, { deleteBatchSize: 4 }));
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('deletes the WAL below the cut-off and the old base backup, leaves the monthly where it is, and a second run does nothing', async () => {
    // Act
    const report = await applyRetention(deps(), { policy: POLICY, dryRun: false, walBatch: 6 });
    const again = await applyRetention(deps(), { policy: POLICY, dryRun: false, walBatch: 6 });
    // Assess
    const expected = [2, 3, ...range(20, SEGMENTS)];
    expect(await segmentsLeft()).toEqual(expected);
    expect(await objectsLeft('wal/app/')).toHaveLength(expected.length * 2);
    expect(await objectsLeft('base/')).toHaveLength(6);
    expect(report.wal[0]).toMatchObject({ rule: 'WAL_CUTOFF', segments: 17 });
    expect(report.cold).toEqual([expect.objectContaining({ id: 'l-monthly', rule: 'COLD_STORAGE' })]);
    expect(report.cold[0]?.moved).toBeUndefined();
    expect(report.notes.join('\n')).toMatch(/lifecycle rule on logical\/monthly\/ moves them/);
    expect(await objectsLeft('logical/monthly/app/l-monthly/')).toHaveLength(3);
    expect(again.wal[0]).toMatchObject({ segments: 0 });
    expect(again.deleted).toEqual([]);
  });
});
