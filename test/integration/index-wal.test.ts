import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { archiveIdentityKey, walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import type { WalRecord } from '../../shared/domain/wal/record';
import { ConflictError, ManifestError, ObjectNotFoundError, StrongboxError } from '../../shared/errors';
import { ensureCatalogTable } from '../../shared/local/dynalite-server';
import { indexWalRecord, type IndexWalDeps } from '../../shared/usecases/index-wal';
import { captureLog, type CapturedLog } from '../support/stack';
import { archiveRecord, startIndexFixture, type IndexFixture } from '../support/wal-records';
import { readFile } from 'node:fs/promises';
import type { Catalog } from '../../shared/ports/catalog';
import { resolveHome } from '../../shared/local/home';
import { startLocalArchiving } from '../../shared/local/archiving';
import { declareSegment, fakeSegment } from '../support/wal-files';
import { rebuildWalIndex } from '../../shared/usecases/rebuild-wal-index';
import { rebuildCatalog } from '../../shared/usecases/rebuild-catalog';
import { DynamoCatalog } from '../../shared/adapters/catalog/dynamo';

const NOW = new Date('2026-03-01T10:15:00.000Z');

let fixture: IndexFixture;
let root: string;
let client: DynamoDBClient;
let storage: FolderStorage;
let walCatalog: DynamoWalCatalog;

function sha(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Fresh log and alerts around the shared storage and catalog. */
function deps(): IndexWalDeps & { log: CapturedLog; alerts: ConsoleAlertPublisher } {
  return { storage, walCatalog, log: captureLog(), alerts: new ConsoleAlertPublisher(() => undefined), clock: () => NOW };
}

/** Archives `name` (of database `app` unless told) into the shared storage as the endpoint does. */
function archive(name: string, options: { database?: string; bytes?: Buffer; writeBytes?: boolean } = {}): Promise<{ record: WalRecord; key: string }> {
  return archiveRecord(storage, options.database ?? 'app', name, options);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  fixture = await startIndexFixture('sbx-index-wal-');
  ({ root, client, storage, walCatalog } = fixture);
});

afterAll(() => fixture?.close());

describe('indexWalRecord', () => {
  it('indexes an archived segment from its record, and answers a repeated event with exists', async () => {
    // Prepare
    const { record, key } = await archive('000000010000000000000003');
    const first = deps();
    const second = deps();
    // Act
    const created = await indexWalRecord(first, key);
    const repeated = await indexWalRecord(second, key);
    // Assess
    expect(created).toStrictEqual({ outcome: 'created', database: 'app', name: record.name, record });
    expect(repeated.outcome).toBe('exists');
    expect(await walCatalog.getWal('app', record.name)).toStrictEqual({ ...record, indexedAt: NOW.toISOString() });
    expect(first.log.lines).toStrictEqual([
      { level: 'INFO', message: 'WAL file indexed', attributes: { database: 'app', segment: record.name, kind: 'segment', timeline: 1, outcome: 'created' } },
    ]);
    expect(second.log.lines[0]?.message).toBe('WAL file was already indexed');
    expect([...first.alerts.published, ...second.alerts.published]).toStrictEqual([]);
  });

  it('indexes history files and backup labels where their lists find them', async () => {
    // Prepare
    const history = await archive('00000002.history', { database: 'hist', bytes: Buffer.from('1\t0/3000000\tno recovery target specified\n') });
    const label = await archive('000000010000000000000002.00000028.backup', { database: 'hist' });
    // Act
    await indexWalRecord(deps(), history.key);
    await indexWalRecord(deps(), label.key);
    // Assess
    expect((await walCatalog.listHistories('hist')).map((r) => r.name)).toStrictEqual(['00000002.history']);
    expect((await walCatalog.listBackupLabels('hist')).map((r) => r.name)).toStrictEqual(['000000010000000000000002.00000028.backup']);
    expect(await walCatalog.timelines('hist')).toStrictEqual([]);
  });

  it('ignores objects that are not records: the bytes, the archive identity, backups', async () => {
    // Prepare
    const run = deps();
    // Act
    const results = await Promise.all(
      [walObjectKey('app', '000000010000000000000003', 'none'), archiveIdentityKey('app'), 'logical/daily/app/20260301T030000Z-l-abcdef/manifest.json'].map((key) => indexWalRecord(run, key)),
    );
    // Assess
    expect(results.map((result) => result.outcome)).toStrictEqual(['ignored', 'ignored', 'ignored']);
    expect(run.log.lines).toStrictEqual([]);
  });

  it('indexes each record as its object-created event arrives, the bytes event being ignored', async () => {
    // Prepare
    const events = new FolderStorage(join(root, 'repo'));
    const outcomes: string[] = [];
    events.onObjectCreated(async (info) => void outcomes.push((await indexWalRecord({ ...deps(), storage: events }, info.key)).outcome));
    const bytes = Buffer.from('segment 7');
    const record = { ...(await archive('000000010000000000000007', { database: 'events', bytes })).record };
    // Act: the endpoint writes the bytes, then the record.
    await events.putBytes(record.objectKey, bytes);
    await events.putBytes(walRecordKey('events', record.name), JSON.stringify(record));
    // Assess
    expect(outcomes).toStrictEqual(['ignored', 'created']);
    expect((await walCatalog.listSegments('events', 1)).map((r) => r.name)).toStrictEqual(['000000010000000000000007']);
  });

  it('alerts and refuses when the same name arrives with other bytes, keeping the first', async () => {
    // Prepare
    const first = await archive('000000010000000000000009', { database: 'twice', bytes: Buffer.from('first server') });
    await indexWalRecord(deps(), first.key);
    const second = await archive('000000010000000000000009', { database: 'twice', bytes: Buffer.from('another server!') });
    const run = deps();
    // Act
    const error = await rejection(indexWalRecord(run, second.key));
    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toContain(first.record.sha256);
    expect(run.alerts.published).toHaveLength(1);
    expect(run.alerts.published[0]).toMatchObject({ type: 'WAL_CONFLICT', severity: 'SEV2', code: 'WAL_CONFLICT', database: 'twice', at: NOW.toISOString() });
    expect(run.alerts.published[0]?.message).toContain(second.record.sha256);
    expect(run.log.lines.map((line) => line.level)).toStrictEqual(['ERROR']);
    expect((await walCatalog.getWal('twice', first.record.name))?.sha256).toBe(first.record.sha256);
  });

  it('alerts and refuses a record whose bytes are missing or of another size', async () => {
    // Prepare
    const missing = await archive('00000001000000000000000B', { database: 'holes', writeBytes: false });
    const resized = await archive('00000001000000000000000C', { database: 'holes' });
    await storage.putBytes(resized.record.objectKey, Buffer.from('truncated'));
    const run = deps();
    // Act
    const errors = [await rejection(indexWalRecord(run, missing.key)), await rejection(indexWalRecord(run, resized.key))];
    // Assess
    for (const error of errors) {
      expect(error).toBeInstanceOf(StrongboxError);
      expect(error).toMatchObject({ code: 'WAL_OBJECT_INVALID' });
    }
    expect((errors[0] as Error).message).toMatch(/has a record but no bytes at wal\/holes\/0000000100000000\/00000001000000000000000B/);
    expect((errors[1] as Error).message).toMatch(/stored with 9 bytes .* declares 37/);
    expect(run.alerts.published.map((alert) => [alert.type, alert.severity, alert.database])).toStrictEqual([
      ['WAL_OBJECT_INVALID', 'SEV2', 'holes'],
      ['WAL_OBJECT_INVALID', 'SEV2', 'holes'],
    ]);
    expect(await walCatalog.listSegments('holes', 1)).toStrictEqual([]);
  });

  it.each([
    ['not JSON', (record: WalRecord) => `${JSON.stringify(record)}}`, /not JSON/],
    ['another format', (record: WalRecord) => JSON.stringify({ ...record, format: 'strongbox-wal/9' }), /not a strongbox-wal\/1 record/],
    ['a record of another name', (record: WalRecord) => JSON.stringify({ ...record, name: '00000001000000000000000E' }), /describes 00000001000000000000000E/],
    ['a record of another database', (record: WalRecord) => JSON.stringify({ ...record, database: 'other' }), /of database other/],
    ['a kind its name contradicts', (record: WalRecord) => JSON.stringify({ ...record, kind: 'partial' }), /says partial on timeline 1/],
    ['bytes kept elsewhere', (record: WalRecord) => JSON.stringify({ ...record, objectKey: 'logical/daily/app/x/dump' }), /outside the place/],
  ])('refuses %s as an invalid record, recording nothing', async (_label, corrupt, message) => {
    // Prepare
    const { record, key } = await archive('00000001000000000000000D', { database: 'bad' });
    await storage.putBytes(key, corrupt(record));
    // Act
    const error = await rejection(indexWalRecord(deps(), key));
    // Assess
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toMatch(message);
    expect(await walCatalog.getWal('bad', record.name)).toBeUndefined();
  });

  it('throws ObjectNotFoundError when the record is gone before its event is handled', async () => {
    const error = await rejection(indexWalRecord(deps(), walRecordKey('app', '0000000100000000000000FF')));
    expect(error).toBeInstanceOf(ObjectNotFoundError);
  });
});

describe('local archive endpoint: "already archived" makes sure the file is indexed (issue 14, item 2)', () => {
  it('indexes, on PostgreSQL\'s retry, a segment whose record was written but whose indexing was lost (kill -9 between the two)', async () => {
    // Prepare: the local endpoint over a storage that delivers no object events, as if
    // `npm start` died right after writing the record, before its event was handled.
    const home = resolveHome({ STRONGBOX_HOME: join(root, 'home-item2') }, root);
    const log = captureLog();
    const context = {
      storage, walCatalog, catalog: {} as Catalog, alerts: new ConsoleAlertPublisher(() => undefined), log, clock: () => NOW,
      paths: home, catalogEndpoint: fixture.endpoint, ownsCatalog: false, close: async () => undefined,
    };
    const archiving = await startLocalArchiving({ context, storage: { type: 'folder' }, env: {}, databases: ['lost-index'], bundle: join(process.cwd(), 'package.json') });
    const token = (await readFile(archiving.tokenFiles.get('lost-index')!, 'utf8')).trim();
    const name = '000000010000000000000003';
    const file = declareSegment(fakeSegment({ segno: 3n }), 'zstd');
    const put = () =>
      fetch(`${archiving.endpointUrl}/v1/wal/lost-index/${name}/body`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'x-strongbox-declaration': Buffer.from(JSON.stringify(file.declaration)).toString('base64') },
        body: file.stored,
      });
    try {
      const first = await put();
      const indexedAfterCrash = await walCatalog.getWal('lost-index', name);
      // Act: PostgreSQL retries the push (it never got its answer).
      const retry = await put();
      // Assess
      expect(first.status).toBe(201);
      expect(indexedAfterCrash).toBeUndefined();
      expect(retry.status).toBe(200);
      expect(((await retry.json()) as { status: string }).status).toBe('exists');
      expect(await walCatalog.getWal('lost-index', name)).toMatchObject({ name, sha256: file.declaration.sha256 });
      expect(log.lines).toContainEqual(expect.objectContaining({ message: 'WAL file indexed', attributes: expect.objectContaining({ database: 'lost-index', segment: name }) }));
      // A further retry changes nothing (indexing is idempotent).
      expect((await put()).status).toBe(200);
    } finally {
      await archiving.stop();
    }
  });
});

describe('catalog rebuild of the WAL index (issue 14, item 3)', () => {
  it('indexes every archived WAL record in storage, folder by folder in batches, skips what fails a check, and is idempotent', async () => {
    // Prepare: a lost catalog (a fresh table) over an archive of 130 segments in one folder
    // (past one batch read of 100), 3 in the next folder, a history file and a backup label.
    const saved = storage;
    storage = new FolderStorage(join(root, 'rebuild-repo'));
    const table = 'rebuilt-catalog';
    await ensureCatalogTable(client, table);
    const lost = new DynamoWalCatalog(toDocumentClient(client), table);
    try {
      const names = [...Array.from({ length: 130 }, (_, i) => (0x7e + i).toString(16).toUpperCase().padStart(8, '0')).map((low) => `0000000100000000${low}`)];
      names.push('000000010000000100000000', '000000010000000100000001', '000000010000000100000002');
      for (const name of names) await archive(name, { database: 'rebuilt' });
      await archive('00000002.history', { database: 'rebuilt' });
      await archive('000000010000000000000080.00000028.backup', { database: 'rebuilt' });
      await archive('000000010000000100000003', { database: 'rebuilt', writeBytes: false }); // a record without its bytes
      const resized = await archive('000000010000000100000004', { database: 'rebuilt' });
      await storage.putBytes(resized.record.objectKey, 'shorter');
      await storage.putBytes(walRecordKey('rebuilt', '000000010000000100000005'), 'not JSON');
      await storage.putBytes(archiveIdentityKey('rebuilt'), JSON.stringify({ systemId: '7311234567890123456' }));
      const log = captureLog();
      // Act
      const report = await rebuildWalIndex({ storage, walCatalog: lost, log, clock: () => NOW });
      const again = await rebuildWalIndex({ storage, walCatalog: lost, log: captureLog(), clock: () => NOW });
      // Assess
      expect(report).toMatchObject({ records: names.length + 5, created: names.length + 2, alreadyKnown: 0, skippedCount: 3 });
      expect(report.skipped.map((item) => item.key).sort()).toEqual([
        walRecordKey('rebuilt', '000000010000000100000003'),
        walRecordKey('rebuilt', '000000010000000100000004'),
        walRecordKey('rebuilt', '000000010000000100000005'),
      ]);
      expect(report.skipped.find((item) => item.key.includes('00000003.json'))?.reason).toContain('missing');
      expect((await lost.listSegments('rebuilt', 1)).map((record) => record.name)).toEqual(names);
      expect((await lost.listHistories('rebuilt')).map((record) => record.name)).toEqual(['00000002.history']);
      expect((await lost.listBackupLabels('rebuilt')).map((record) => record.name)).toEqual(['000000010000000000000080.00000028.backup']);
      expect(await lost.timelines('rebuilt')).toEqual([expect.objectContaining({ timeline: 1, highestName: '000000010000000100000002' })]);
      expect(again).toMatchObject({ created: 0, alreadyKnown: names.length + 2, skippedCount: 3 });
      expect(log.lines).toContainEqual(expect.objectContaining({ message: 'WAL index rebuilt', attributes: expect.objectContaining({ created: names.length + 2 }) }));
    } finally {
      storage = saved;
    }
  });

  it('reports, and does not overwrite, a catalog entry with other bytes than the record in storage', async () => {
    // Prepare
    const saved = storage;
    storage = new FolderStorage(join(root, 'rebuild-conflict'));
    try {
      const { record } = await archive('000000010000000000000009', { database: 'rebuilt2' });
      await walCatalog.recordWal({ ...record, sha256: sha('other bytes') }, NOW.toISOString());
      // Act
      const report = await rebuildWalIndex({ storage, walCatalog, log: captureLog(), clock: () => NOW });
      // Assess
      expect(report).toMatchObject({ records: 1, created: 0, skippedCount: 1 });
      expect(report.skipped[0]?.reason).toContain(sha('other bytes'));
      expect((await walCatalog.getWal('rebuilt2', '000000010000000000000009'))?.sha256).toBe(sha('other bytes'));
    } finally {
      storage = saved;
    }
  });

  it('is part of `catalog rebuild` (rebuildCatalog), which said it rebuilt the WAL index and did not', async () => {
    // Prepare
    const saved = storage;
    storage = new FolderStorage(join(root, 'rebuild-cli'));
    const table = 'rebuilt-cli';
    await ensureCatalogTable(client, table);
    const lost = new DynamoWalCatalog(toDocumentClient(client), table);
    try {
      await archive('000000010000000000000011', { database: 'rebuilt3' });
      // Act
      const report = await rebuildCatalog({ storage, catalog: new DynamoCatalog(toDocumentClient(client), table), walCatalog: lost, alerts: new ConsoleAlertPublisher(() => undefined), log: captureLog(), clock: () => NOW }, { verify: false });
      // Assess
      expect(report.wal).toMatchObject({ records: 1, created: 1 });
      expect(await lost.getWal('rebuilt3', '000000010000000000000011')).toBeDefined();
    } finally {
      storage = saved;
    }
  });
});
