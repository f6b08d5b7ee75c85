import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogIndexHandler } from '../../functions/catalog-index';
import type { DynamoCatalog } from '../../shared/adapters/catalog/dynamo';
import type { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { objectCreatedEvent } from '../../shared/domain/object-event';
import { walRecordKey } from '../../shared/domain/wal/keys';
import type { WalRecord } from '../../shared/domain/wal/record';
import { ConflictError } from '../../shared/errors';
import { deliverObjectEvents } from '../../shared/local/object-events';
import { captureLog } from '../support/stack';
import { archiveRecord, startIndexFixture, type IndexFixture } from '../support/wal-records';

// Several WAL records in one event (local mode delivers the records written during an
// earlier delivery together): each checked as alone, the catalog written once for all.
const NOW = new Date('2026-03-01T10:15:00.000Z');

let fixture: IndexFixture;
let root: string;
let storage: FolderStorage;
let walCatalog: DynamoWalCatalog;
let catalog: DynamoCatalog;

beforeAll(async () => {
  fixture = await startIndexFixture('sbx-index-batch-');
  ({ root, storage, walCatalog, catalog } = fixture);
});

afterAll(() => fixture?.close());

/** The record the endpoint would write for `name` of `database` holding `bytes`; the record too unless `store` is 'object'. */
function archived(database: string, name: string, options: { bytes?: Buffer; store?: 'both' | 'object' } = {}): Promise<{ record: WalRecord; key: string }> {
  return archiveRecord(storage, database, name, { ...(options.bytes ? { bytes: options.bytes } : {}), writeRecord: options.store !== 'object' });
}

const segment = (segno: number) => `0000000100000000000000${segno.toString(16).toUpperCase().padStart(2, '0')}`;
const eventOf = (keys: string[]) => ({ Records: keys.flatMap((key) => objectCreatedEvent({ bucket: storage.bucket, key, size: 1, time: NOW }).Records) });

describe('indexing several WAL records of one event', () => {
  it('indexes every good record with one batch, joins the segments into one range, and sets aside an unreadable one', async () => {
    // Prepare: four segments, a history file, and a record that is not JSON
    const files = await Promise.all([1, 2, 3, 4].map((segno) => archived('batch', segment(segno))));
    const history = await archived('batch', '00000002.history', { bytes: Buffer.from('1\t0/5000000\tno recovery target specified\n') });
    const bad = walRecordKey('batch', segment(9));
    await storage.putBytes(bad, 'not a record');
    const log = captureLog();

    // Act
    const result = await catalogIndexHandler({ storage, catalog, walCatalog, log, clock: () => NOW })(eventOf([...files.map((f) => f.key), history.key, bad]));

    // Assess
    expect(result.indexed.sort()).toEqual([...[1, 2, 3, 4].map(segment), '00000002.history'].sort());
    expect(result.ignored).toEqual([bad]);
    expect(log.lines.filter((line) => line.message === 'WAL files indexed')).toEqual([
      expect.objectContaining({ attributes: expect.objectContaining({ databases: 'batch', files: 5, created: 5, existing: 0 }) }),
    ]);
    expect(log.lines.some((line) => line.message === 'WAL record unreadable: not indexed')).toBe(true);
    expect((await walCatalog.listRanges('batch', 1)).map((range) => [range.first.name, range.last.name])).toEqual([[segment(1), segment(4)]]);
    expect((await walCatalog.listHistories('batch')).map((record) => record.name)).toEqual(['00000002.history']);
    expect(await walCatalog.getWal('batch', segment(2))).toMatchObject({ sha256: files[1]!.record.sha256, indexedAt: NOW.toISOString() });
  });

  it('indexes the others, then alerts a record the catalog holds with other bytes (WAL_CONFLICT) and fails', async () => {
    // Prepare: segment 11 already indexed with other bytes
    const first = await archived('clash', segment(11), { bytes: Buffer.from('the first bytes') });
    await walCatalog.recordWal(first.record, NOW.toISOString());
    const other = await archived('clash', segment(11), { bytes: Buffer.from('other bytes'), store: 'object' });
    await storage.delete([first.key]);
    await storage.putBytes(first.key, JSON.stringify(other.record));
    const fine = await Promise.all([12, 13].map((segno) => archived('clash', segment(segno))));
    const alerts = new ConsoleAlertPublisher(() => undefined);

    // Act
    const outcome = catalogIndexHandler({ storage, catalog, walCatalog, log: captureLog(), alerts, clock: () => NOW })(eventOf([first.key, ...fine.map((f) => f.key)]));

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ConflictError);
    expect(alerts.published.map((alert) => [alert.type, alert.severity])).toEqual([['WAL_CONFLICT', 'SEV2']]);
    expect(alerts.published[0]?.message).toContain(segment(11));
    expect((await walCatalog.getWal('clash', segment(11)))?.sha256).toBe(first.record.sha256);
    for (const segno of [12, 13]) expect(await walCatalog.getWal('clash', segment(segno))).toBeDefined();
  });

  it('local mode: records written at once are each indexed before their write returns', async () => {
    // Prepare: a storage delivering its events as local mode does
    const local = new FolderStorage(join(root, 'local-repo'));
    const log = captureLog();
    deliverObjectEvents({ storage: local, catalog, walCatalog, alerts: new ConsoleAlertPublisher(() => undefined), log, clock: () => NOW });
    const saved = storage;
    storage = local;
    try {
      // Act: twelve pushes finishing together
      const files = await Promise.all(Array.from({ length: 12 }, (_, n) => archived('burst', segment(n + 1))));

      // Assess: every record indexed when its write resolved, one range, every file logged once
      for (const { record } of files) expect((await walCatalog.getWal('burst', record.name))?.sha256).toBe(record.sha256);
      expect((await walCatalog.listRanges('burst', 1)).map((range) => [range.first.name, range.last.name])).toEqual([[segment(1), segment(12)]]);
      const counted = log.lines.reduce((sum, line) => sum + (line.message === 'WAL files indexed' ? Number(line.attributes?.files) : line.message === 'WAL file indexed' ? 1 : 0), 0);
      expect(counted).toBe(12);
    } finally {
      storage = saved;
    }
  });

  it('npm start: a write answers before its record is indexed; the records of one window are indexed as one event', async () => {
    // Prepare: a window no test run outlasts, so that only indexNow() ends it
    const local = new FolderStorage(join(root, 'window-repo'));
    const log = captureLog();
    const events = deliverObjectEvents({ storage: local, catalog, walCatalog, alerts: new ConsoleAlertPublisher(() => undefined), log, clock: () => NOW }, { walIndexWindow: { windowMs: 600_000 } });
    const saved = storage;
    storage = local;
    try {
      // Act: twelve pushes, answered
      const files = await Promise.all(Array.from({ length: 12 }, (_, n) => archived('window', segment(n + 1))));
      const before = await Promise.all(files.map(({ record }) => walCatalog.getWal('window', record.name)));
      await events.indexNow();

      // Assess: nothing indexed while the window was open; then all twelve in one event and one range
      expect(before.every((found) => found === undefined)).toBe(true);
      for (const { record } of files) expect((await walCatalog.getWal('window', record.name))?.sha256).toBe(record.sha256);
      expect(log.lines.filter((line) => line.message === 'WAL files indexed').map((line) => line.attributes?.files)).toEqual([12]);
      expect((await walCatalog.listRanges('window', 1)).map((range) => [range.first.name, range.last.name])).toEqual([[segment(1), segment(12)]]);
    } finally {
      storage = saved;
    }
  });

  it('npm start: indexed() resolves once the window ended and the records are in the catalog', async () => {
    const local = new FolderStorage(join(root, 'window-short-repo'));
    const events = deliverObjectEvents({ storage: local, catalog, walCatalog, alerts: new ConsoleAlertPublisher(() => undefined), log: captureLog(), clock: () => NOW }, { walIndexWindow: { windowMs: 20 } });
    const saved = storage;
    storage = local;
    try {
      const file = await archived('window-short', segment(1));
      await events.indexed();
      expect((await walCatalog.getWal('window-short', file.record.name))?.sha256).toBe(file.record.sha256);
    } finally {
      storage = saved;
    }
  });
});
