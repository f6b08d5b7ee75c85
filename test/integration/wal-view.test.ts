/**
 * The catalog's WAL view (ports/wal-view.ts): status and the retention plan of every
 * database read each database's WAL metadata, restore points and ranges from a few paged
 * Queries on the `byEntity` index instead of three Queries per database, and answer exactly
 * as they do database by database. A catalog written before the view existed (its items
 * without the view's attributes, no marker) is read database by database until it is
 * backfilled (`catalog rebuild`, or retention's first run), then the same answers come from
 * the view. Real dynalite, real adapters, a repository folder; counts of requests, no clock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteCommand, ScanCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { VIEW_MARKER_KEY, viewShard } from '../../shared/adapters/catalog/wal-view-keys';
import { INDEX_BY_ENTITY } from '../../shared/adapters/catalog/schema';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { BackupEntry } from '../../shared/domain/backup';
import { DEFAULT_RETENTION_POLICY } from '../../shared/domain/retention';
import { formatHistory } from '../../shared/domain/wal/history';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { formatLsn, historyName, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { silentLog } from '../../shared/ports';
import { backfillWalView } from '../../shared/usecases/backfill-wal-view';
import { applyRetention, readAndPlan, type RetentionDeps } from '../../shared/usecases/retention';
import { readStatus, type StatusDeps } from '../../shared/usecases/status';
import { CatalogError } from '../../shared/errors';
import { captureLog } from '../support/stack';

const TABLE = 'wal-view';
const SHA = 'c'.repeat(64);
const START = Date.UTC(2026, 10, 20);
const NOW = new Date(START + 3 * 86_400_000);
const at = (minutes: number) => new Date(START + minutes * 60_000).toISOString();
/** a: two timelines (a promotion), a gap, restore points, an archive status; b: dumps only; c: nothing; d: WAL and a base backup; e: WAL only. */
const ASKED = ['a', 'b', 'c', 'd', 'e'];
/** Every database with items in the catalog: what `catalog rebuild` would name. */
const KNOWN = ['a', 'b', 'd', 'e'];

let dynalite: DynaliteServer;
let dir: string;
let documents: DynamoDBDocumentClient;
let walCatalog: DynamoWalCatalog;
let deps: StatusDeps;
/** Commands sent since the last reset, with the index of each Query. */
const sent: Array<{ command: string; index?: string; table?: boolean }> = [];

function logical(database: string, day: number): BackupEntry {
  const startedAt = at(day * 1440 + 60);
  return { id: `2026112${day}T010000Z-l-${database}`, database, kind: 'logical', tier: 'daily', scope: 'full', state: 'VERIFIED', key: `logical/daily/${database}/${day}/dump`, manifestKey: `logical/daily/${database}/${day}/manifest.json`, compression: 'gzip', startedAt, finishedAt: startedAt, heartbeatAt: startedAt } as BackupEntry;
}

function base(database: string, segno: number, timeline = 1): BackupEntry {
  return {
    id: `20261120T00000${timeline}Z-b-${database}`, database, kind: 'base', tier: 'daily', scope: 'full', state: 'VERIFIED',
    key: `base/daily/${database}/b${timeline}/dump.zst`, manifestKey: `base/daily/${database}/b${timeline}/manifest.json`, compression: 'zstd',
    startedAt: at(segno - 1), finishedAt: at(segno + 1), heartbeatAt: at(segno + 1),
    base: {
      startLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x28n), stopLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x1000n),
      timeline, stopTimeline: timeline, systemId: '7311234567890123456', pgVersion: 15,
      walSegments: { first: segmentName(timeline, BigInt(segno)), last: segmentName(timeline, BigInt(segno)) }, label: '', walIncluded: true,
    },
  } as BackupEntry;
}

function segment(database: string, segno: number, timeline = 1): WalRecord {
  const name = segmentName(timeline, BigInt(segno));
  return { format: WAL_RECORD_FORMAT, database, name, kind: 'segment', timeline, segno: String(segno), objectKey: walObjectKey(database, name, 'zstd'), compression: 'zstd', size: 16 * 1024 * 1024, sha256: SHA, storedSize: 100, storedSha256: SHA, systemId: '7311234567890123456', archivedAt: at(segno) } as WalRecord;
}

/** Writes the catalog of every database with the current code (its items carry the view's attributes). */
async function load(catalog: DynamoCatalog, storage: FolderStorage): Promise<void> {
  // a: segments 1..30 on timeline 1 without 12, a promotion at 20 to timeline 2 (20..40).
  await walCatalog.recordWals(Array.from({ length: 30 }, (_, i) => segment('a', i + 1)).filter((record) => record.segno !== '12'), at(31));
  await walCatalog.recordWals(Array.from({ length: 21 }, (_, i) => segment('a', i + 20, 2)), at(41));
  const history = formatHistory([{ parentTimeline: 1, switchLsn: segmentStartLsn(20n) + 0x100n, reason: 'promoted' }]);
  const historyKey = walObjectKey('a', historyName(2), 'none');
  await storage.putBytes(historyKey, history);
  await walCatalog.recordWal({ format: WAL_RECORD_FORMAT, database: 'a', name: historyName(2), kind: 'history', timeline: 2, objectKey: historyKey, compression: 'none', size: history.length, sha256: SHA, storedSize: history.length, storedSha256: SHA, archivedAt: at(20) }, at(20));
  await walCatalog.putArchiveStatus('a', { measuredAt: at(41), lastArchivedWal: segmentName(2, 40n), lastArchivedAt: at(40), timeline: 2, timelineSource: 'checkpoint', gaps: [{ first: segmentName(1, 12n), last: segmentName(1, 12n), count: 1 }], gapSegments: 1, gapRanges: 1 });
  for (const [minute, name] of [[5, 'before-upgrade'], [25, 'after-promotion'], [4000, 'today']] as const) {
    await walCatalog.recordRestorePoint('a', { name, lsn: formatLsn(segmentStartLsn(BigInt(Math.min(minute, 39))) + 0x100n), timeline: minute < 20 ? 1 : 2, createdAt: at(minute) });
  }
  await catalog.create(base('a', 3));
  await catalog.create(base('a', 30, 2));
  // d: 12 segments and a base backup starting inside them; e: WAL only.
  await walCatalog.recordWals(Array.from({ length: 12 }, (_, i) => segment('d', i + 1)), at(13));
  await catalog.create(base('d', 3));
  await walCatalog.recordWals(Array.from({ length: 6 }, (_, i) => segment('e', i + 1)), at(7));
  for (const database of ['a', 'b', 'd']) for (let day = 0; day < 3; day += 1) await catalog.create(logical(database, day));
}

/** Turns the table into one written before the view existed: no item carries its attributes, no marker. */
async function toOldLayout(): Promise<number> {
  let stripped = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(new ScanCommand({ TableName: TABLE, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
    for (const item of page.Items ?? []) {
      if (typeof item.entity !== 'string' || !item.entity.startsWith('WALVIEW#')) continue;
      if (item.pk === VIEW_MARKER_KEY.pk) continue;
      await documents.send(new UpdateCommand({ TableName: TABLE, Key: { pk: item.pk, sk: item.sk }, UpdateExpression: 'REMOVE entity, gsiSort' }));
      stripped += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  await documents.send(new DeleteCommand({ TableName: TABLE, Key: VIEW_MARKER_KEY }));
  return stripped;
}

function retentionDeps(): RetentionDeps {
  return { ...deps, alerts: { publish: async () => undefined }, clock: () => NOW };
}

/** Status of each database read alone (its own keys, strongly consistent: no view). */
async function oneByOne(): Promise<unknown[]> {
  const statuses = [];
  for (const database of ASKED) statuses.push((await readStatus(deps, { databases: [database], now: NOW })).databases[0]);
  return statuses;
}

const tableQueries = () => sent.filter((request) => request.command === 'QueryCommand' && request.index === undefined).length;

beforeAll(async () => {
  dynalite = await startDynalite({});
  dir = await mkdtemp(join(tmpdir(), 'sbx-wal-view-'));
  const client = makeDynamoClient({ endpoint: dynalite.endpoint });
  await ensureCatalogTable(client, TABLE);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Partial<QueryCommandInput>;
      sent.push({ command: String(context.commandName), ...(input.IndexName !== undefined ? { index: input.IndexName } : {}) });
      return next(args);
    },
    { step: 'initialize', name: 'walViewRequests' },
  );
  documents = toDocumentClient(client);
  const catalog = new DynamoCatalog(documents, TABLE);
  walCatalog = new DynamoWalCatalog(documents, TABLE);
  const storage = new FolderStorage(join(dir, 'repo'));
  deps = { catalog, walCatalog, storage, log: silentLog };
  await load(catalog, storage);
}, 120_000);

afterAll(async () => {
  await dynalite?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the WAL view of every database', () => {
  let alone: unknown[];
  let reference: Awaited<ReturnType<typeof readStatus>>;
  let plan: Awaited<ReturnType<typeof readAndPlan>>['plan'];

  it('is not trusted on a catalog written before it: status and the plan read database by database', async () => {
    expect(await toOldLayout()).toBeGreaterThan(10);
    expect((await walCatalog.readViews!()).complete).toBe(false);
    alone = await oneByOne();
    sent.length = 0;
    reference = await readStatus(deps, { databases: ASKED, now: NOW });
    expect(reference.databases).toEqual(alone);
    // Its metadata, restore points and ranges: Queries on each database's own keys.
    expect(tableQueries()).toBeGreaterThanOrEqual(2 * ASKED.length);
    plan = (await readAndPlan(retentionDeps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: true }, NOW)).plan;
    expect(plan.restorePoints.map((point) => point.name).sort()).toEqual(['after-promotion', 'before-upgrade', 'today']);
    expect(reference.databases[0]).toMatchObject({ database: 'a', pitr: { timelines: [1, 2] } });
  });

  it('a backfill puts the items written before it in the view and marks it complete; a second changes nothing', async () => {
    const first = await backfillWalView({ walView: walCatalog as never, log: silentLog, clock: () => NOW }, KNOWN);
    expect(first).toMatchObject({ databases: KNOWN.length, complete: true, failed: [] });
    expect(first.items).toBe(13);
    const second = await backfillWalView({ walView: walCatalog as never, log: silentLog, clock: () => NOW }, KNOWN);
    expect(second).toMatchObject({ items: 0, complete: true });
    const view = await walCatalog.readViews!();
    expect(view.complete).toBe(true);
    expect([...view.databases.keys()].sort()).toEqual(['a', 'd', 'e']);
    const a = view.databases.get('a')!;
    expect(a.timelines.map((summary) => summary.timeline)).toEqual([1, 2]);
    expect(a.restorePoints.map((point) => point.name)).toEqual(['today', 'after-promotion', 'before-upgrade']);
    expect(a.ranges.get(1)?.map((range) => [range.from, range.to])).toEqual([[1n, 11n], [13n, 30n]]);
    expect(a.archiveStatus).toMatchObject({ timeline: 2, gapSegments: 1 });
    expect(a.archiveStatus).not.toHaveProperty('entity');
  });

  it('status of every database then reads the view: the same answers, no Query per database', async () => {
    sent.length = 0;
    const report = await readStatus(deps, { databases: ASKED, now: NOW });
    expect(report.databases).toEqual(reference.databases);
    expect(tableQueries()).toBe(0);
    expect(sent.filter((request) => request.index === INDEX_BY_ENTITY).length).toBeGreaterThan(0);
    // The backups (1 page), the view's shards of these databases and shard 0, a's history record, the ranges' ends (1 batch).
    const shards = new Set([0, ...ASKED.map(viewShard)]).size;
    expect(report.reads.requests).toBeLessThanOrEqual(1 + shards + 1 + 1);
    expect(report.reads.requests).toBeLessThan(reference.reads.requests);
  });

  it('reads the same two items a page (every shard pages, databases spanning pages are joined)', async () => {
    const paged = new DynamoWalCatalog(documents, TABLE, { pageSize: 2 });
    const [small, large] = [await paged.readViews(), await walCatalog.readViews!()];
    expect(small.complete).toBe(true);
    expect(small.databases).toEqual(large.databases);
    expect(small.requests).toBeGreaterThan(large.requests);
    expect((await readStatus({ ...deps, walCatalog: paged }, { databases: ASKED, now: NOW })).databases).toEqual(reference.databases);
  });

  it('a view that cannot be read costs the speed, never the answer: each database is read on its own keys', async () => {
    const failing = new Proxy(walCatalog, {
      get: (target, property) => (property === 'readViews' ? async () => Promise.reject(new CatalogError('index unavailable', 'try later')) : (Reflect.get(target, property, target) as unknown)),
    });
    const log = captureLog();
    const report = await readStatus({ ...deps, walCatalog: failing, log }, { databases: ASKED, now: NOW });
    expect(report.databases).toEqual(reference.databases);
    expect(log.lines.filter((line) => line.level === 'WARN').map((line) => line.message)).toEqual(['status: the WAL view cannot be read: each database is read on its own keys']);
    const { plan: fallback } = await readAndPlan({ ...retentionDeps(), walCatalog: failing, log }, { policy: DEFAULT_RETENTION_POLICY, dryRun: true }, NOW);
    expect(fallback).toEqual(plan);
  });

  it('the retention plan of every database reads it too, and plans the same', async () => {
    sent.length = 0;
    const again = (await readAndPlan(retentionDeps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: true }, NOW)).plan;
    expect(again).toEqual(plan);
    expect(tableQueries()).toBe(0);
  });

  it('what is written after the backfill is in the view at once: new segments, a restore point, a status, a cut range', async () => {
    await walCatalog.recordWals([segment('a', 41, 2), segment('a', 42, 2), segment('e', 8)], at(43));
    await walCatalog.recordRestorePoint('d', { name: 'late', lsn: formatLsn(segmentStartLsn(6n)), timeline: 1, createdAt: at(4100) });
    await walCatalog.putArchiveStatus('d', { measuredAt: at(4100), lastArchivedWal: segmentName(1, 12n), lastArchivedAt: at(12), timeline: 1, timelineSource: 'checkpoint' });
    // Retention cuts a range in two: the part after the cut is a new item.
    await walCatalog.deleteWalRecords('d', [segmentName(1, 7n)]);
    const expected = await oneByOne();
    const report = await readStatus(deps, { databases: ASKED, now: NOW });
    expect(report.databases).toEqual(expected);
    expect((await walCatalog.readViews!(new Set(['d']))).databases.get('d')!.ranges.get(1)!.map((range) => [range.from, range.to])).toEqual([[1n, 6n], [8n, 12n]]);
  });

  it('retention\'s first run on a catalog written before the view backfills it (a dry run does not)', async () => {
    await toOldLayout();
    // e has no backup: retention knows it because it archived since (its timeline's item is in the view again).
    await walCatalog.recordWals([segment('e', 9)], at(44));
    await applyRetention(retentionDeps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: true });
    expect((await walCatalog.readViews!()).complete).toBe(false);
    const before = (await readAndPlan(retentionDeps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: true }, NOW)).plan;
    await applyRetention(retentionDeps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    const view = await walCatalog.readViews!();
    expect(view.complete).toBe(true);
    expect([...view.databases.keys()].sort()).toEqual(['a', 'd', 'e']);
    expect(before.decisions.length).toBeGreaterThan(0);
    const expected = await oneByOne();
    expect((await readStatus(deps, { databases: ASKED, now: NOW })).databases).toEqual(expected);
  });
});
