/**
 * WAL reconciliation (issue 16, point 2) on dynalite and a repository folder: WAL records
 * stored whose ObjectCreated events were lost — single segments, a run, the newest one,
 * a `.partial`, a `.backup` label, a whole new timeline with its history — are found in
 * storage and indexed, reported and alerted once; a record whose bytes are gone is not
 * indexed; a second run lists only from its cursors; a run stopped at its deadline resumes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { Storage } from '../../shared/ports/storage';
import { formatHistory } from '../../shared/domain/wal/history';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { formatLsn, historyName, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import type { Alert } from '../../shared/ports';
import { reconcileHandler } from '../../functions/reconcile';
import { reconcileWal, type ReconcileDeps } from '../../shared/usecases/reconcile-wal';
import { captureLog } from '../support/stack';

const SWITCH = 600;
const HISTORY = formatHistory([{ parentTimeline: 1, switchLsn: segmentStartLsn(BigInt(SWITCH)) + 0x100n, reason: 'promoted' }]);
/** Segments of timeline 1 whose events are lost (600 segments span folders 0, 1 and 2). */
const LOST_TL1 = [100, 300, 301, 302, 599];
const LATER = () => new Date(Date.now() + 2 * 3_600_000);

let dynalite: DynaliteServer;
let client: DynamoDBClient;
let root: string;
let table = 0;
let storage: Storage;
let walCatalog: DynamoWalCatalog;
let catalog: DynamoCatalog;
let alerts: Alert[];

function record(name: string, kind: WalRecord['kind'], timeline: number, segno?: number, text = 'bytes'): WalRecord {
  return {
    format: WAL_RECORD_FORMAT,
    database: 'app',
    name,
    kind,
    timeline,
    ...(segno !== undefined ? { segno: String(segno), startLsn: formatLsn(segmentStartLsn(BigInt(segno))), endLsn: formatLsn(segmentStartLsn(BigInt(segno + 1))) } : {}),
    objectKey: walObjectKey('app', name, 'none'),
    compression: 'none',
    size: kind === 'segment' ? 16 * 1024 * 1024 : text.length,
    sha256: 'a'.repeat(64),
    storedSize: Buffer.byteLength(text),
    storedSha256: 'b'.repeat(64),
    ...(kind === 'segment' || kind === 'partial' ? { systemId: '7311234567890123456' } : {}),
    archivedAt: new Date(Date.UTC(2026, 11, 1) + (segno ?? 0) * 1000).toISOString(),
  };
}

const segment = (timeline: number, segno: number) => record(segmentName(timeline, BigInt(segno)), 'segment', timeline, segno);

/** Stores the file and its record; indexes it unless its event is `lost`. */
async function archive(one: WalRecord, lost: boolean, text = 'bytes'): Promise<void> {
  await storage.putBytes(one.objectKey, text);
  await storage.putBytes(walRecordKey('app', one.name), JSON.stringify(one));
  if (!lost) await walCatalog.recordWal(one, one.archivedAt);
}

function deps(clock: () => Date = LATER): ReconcileDeps {
  return { storage, walCatalog, log: captureLog(), clock, alerts: { publish: async (alert) => void alerts.push(alert) } };
}

const ranges = async (timeline: number) => (await walCatalog.listRanges('app', timeline)).map((range) => [Number(range.from), Number(range.to)]);

beforeAll(async () => {
  dynalite = await startDynalite({});
  client = makeDynamoClient({ endpoint: dynalite.endpoint });
  root = await mkdtemp(join(tmpdir(), 'strongbox-reconcile-'));
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await dynalite?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  table += 1;
  await ensureCatalogTable(client, `reconcile${table}`);
  const documents = toDocumentClient(client);
  walCatalog = new DynamoWalCatalog(documents, `reconcile${table}`);
  catalog = new DynamoCatalog(documents, `reconcile${table}`);
  storage = new FolderStorage(join(root, `repo${table}`));
  alerts = [];
  const indexed: WalRecord[] = [];
  for (let segno = 0; segno < SWITCH; segno += 1) {
    const one = segment(1, segno);
    await storage.putBytes(one.objectKey, 'bytes');
    await storage.putBytes(walRecordKey('app', one.name), JSON.stringify(one));
    if (!LOST_TL1.includes(segno)) indexed.push(one);
  }
  await walCatalog.recordWals(indexed, new Date().toISOString());
  // The end of timeline 1 (a .partial) and a base backup's label: their events lost too.
  await archive(record(`${segmentName(1, 600n)}.partial`, 'partial', 1, 600), true);
  await archive(record(`${segmentName(1, 200n)}.00000028.backup`, 'backup', 1, 200), true);
  // Timeline 2: its history and its first 51 segments, every event lost.
  await archive(record(historyName(2), 'history', 2, undefined, HISTORY), true, HISTORY);
  for (let segno = SWITCH; segno <= SWITCH + 50; segno += 1) await archive(segment(2, segno), true);
}, 300_000);

describe('WAL reconciliation with storage', () => {
  it('indexes every record whose event was lost, alerts once per database, and a second run repairs nothing and lists only from its cursors', async () => {
    expect(await ranges(1)).toEqual([[0, 99], [101, 299], [303, 598]]);

    const first = await reconcileWal(deps(), { databases: ['app'] });

    expect(first).toMatchObject({ databases: 1, repaired: LOST_TL1.length + 2 + 1 + 51, rangesRepaired: 0, skippedCount: 0, complete: true });
    expect(first.repairedFiles).toContainEqual({ database: 'app', name: segmentName(1, 599n) });
    expect(first.repairedFiles).toContainEqual({ database: 'app', name: historyName(2) });
    expect(await ranges(1)).toEqual([[0, SWITCH - 1]]);
    expect(await ranges(2)).toEqual([[SWITCH, SWITCH + 50]]);
    expect(await walCatalog.getWal('app', `${segmentName(1, 600n)}.partial`)).toBeDefined();
    expect((await walCatalog.listBackupLabels('app')).map((label) => label.name)).toEqual([`${segmentName(1, 200n)}.00000028.backup`]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ type: 'WAL_EVENTS_LOST', severity: 'SEV3', database: 'app' });
    expect(alerts[0]!.message).toContain(`${LOST_TL1.length + 54} WAL file(s)`);
    // Timeline 1 walked folders 0..2, timeline 2 began at its switch point's folder (log 2), not at log 0.
    expect(first.folders).toBe(3 + 1 + 2);

    const second = await reconcileWal(deps(), { databases: ['app'] });
    expect(second).toMatchObject({ repaired: 0, rangesRepaired: 0, complete: true });
    expect(alerts).toHaveLength(1);
    // From the cursors: the newest non-empty folder of each timeline, and the empty one after it.
    expect(second.folders).toBe(2 + 2);
    expect(await walCatalog.getReconcileCursor('app', 1)).toMatchObject({ folder: '0000000100000002', repairedTotal: LOST_TL1.length + 2 });
  }, 120_000);

  it('a record whose bytes are gone is reported and not indexed; a recorded segment the ranges lack is added to them', async () => {
    const gone = segment(1, 100);
    await storage.delete([gone.objectKey]);
    // Segment 300's record written, and its range write "died" (a writer killed between the two).
    const item = segment(1, 300);
    await toDocumentClient(client).send(new PutCommand({ TableName: `reconcile${table}`, Item: { ...item, indexedAt: item.archivedAt, pk: 'WAL#app#00000001', sk: item.name } }));
    const report = await reconcileWal(deps(), { databases: ['app'] });
    expect(report.rangesRepaired).toBe(1);
    expect(report.skipped).toEqual([{ key: walRecordKey('app', gone.name), reason: `its bytes ${gone.objectKey} are missing` }]);
    expect(await walCatalog.getWal('app', gone.name)).toBeUndefined();
    expect(await ranges(1)).toEqual([[0, 99], [101, SWITCH - 1]]);
  }, 120_000);

  it('leaves alone what a retention run is deleting (its mark): re-adding it could outlive the cut', async () => {
    await walCatalog.putRetentionMark('app', { at: new Date().toISOString(), rule: 'WAL_WINDOW', timelines: [{ timeline: 1, deleteBelow: segmentName(1, 200n) }], keep: [] });
    const report = await reconcileWal(deps(), { databases: ['app'] });
    expect(report.repairedFiles).not.toContainEqual({ database: 'app', name: segmentName(1, 100n) });
    expect(report.repaired).toBe(LOST_TL1.length - 1 + 54);
    expect(await walCatalog.getWal('app', segmentName(1, 100n))).toBeUndefined();
  }, 120_000);

  it('stops between folders at its deadline with its place saved, and the next run finishes', async () => {
    let tick = LATER().getTime();
    const clock = () => new Date((tick += 1000));
    const cut = await reconcileWal(deps(clock), { databases: ['app'], stopAt: tick + 2500 });
    expect(cut.complete).toBe(false);
    expect(cut.repaired).toBeLessThan(LOST_TL1.length + 54);
    const rest = await reconcileWal(deps(clock), { databases: ['app'] });
    expect(rest.complete).toBe(true);
    expect(cut.repaired + rest.repaired).toBe(LOST_TL1.length + 54);
    expect(await ranges(1)).toEqual([[0, SWITCH - 1]]);
    expect(await ranges(2)).toEqual([[SWITCH, SWITCH + 50]]);
  }, 120_000);

  it('keeps the cursor at a folder whose objects have not settled (an uploader may still fill in behind them)', async () => {
    await reconcileWal(deps(() => new Date()), { databases: ['app'] });
    const cursor = await walCatalog.getReconcileCursor('app', 1);
    expect(cursor?.folder).toBe('0000000100000000');
  }, 120_000);

  it('the function reconciles the databases the catalog knows, or those it is given, and refuses other input', async () => {
    const handle = reconcileHandler({ ...deps(), catalog });
    expect(await handle({ databases: ['app'] })).toMatchObject({ databases: 1, repaired: LOST_TL1.length + 54, skipped: 0 });
    // No backup in this catalog: no database to reconcile.
    expect(await handle({})).toMatchObject({ databases: 0, repaired: 0 });
    await expect(handle({ databases: 'app' })).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  }, 120_000);
});
