import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { catalogIndexHandler } from '../../functions/catalog-index';
import { makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoCatalog } from '../../shared/adapters/catalog/dynamo';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/archive-endpoint/http-server';
import { objectCreatedEvent } from '../../shared/domain/object-event';
import { walDamagedKey, walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { deliverObjectEvents } from '../../shared/local/object-events';
import { StorageError } from '../../shared/errors';
import type { Alert } from '../../shared/ports';
import { HEAD_PREFIX_BYTES as PREFIX_BYTES } from '../../shared/ports/wal-codec';
import { rebuildWalIndex } from '../../shared/usecases/rebuild-wal-index';
import { reconcileWal } from '../../shared/usecases/reconcile-wal';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog, keysUnder } from '../support/stack';
import { declareForged, declareSegment, fakeSegment, MIB, OTHER_SYSTEM_ID, sha256, SYSTEM_ID, type DeclaredFile } from '../support/wal-files';

/**
 * Presign mode's `complete` for a compressed object reads a bounded prefix only (S3 checked
 * the stored SHA-256); the decoded size and SHA-256 are checked asynchronously, before the
 * record is indexed (docs/wal.md, "Presign mode"). On the real endpoint, s3rver with the
 * strict harness (test/support/s3-conditional.ts) and dynalite.
 */

const TOKEN = 'deferred-token-51c0';
const PREFIX = 'repo';
const TABLE = 'deferred';

let s3: S3TestServer;
let storage: S3Storage;
let endpoint: ArchiveEndpointServer;
let dynalite: DynaliteServer;
let client: DynamoDBClient;
let walCatalog: DynamoWalCatalog;
let catalog: DynamoCatalog;
let root: string;
const alerts: Alert[] = [];
const alertPublisher = { publish: async (alert: Alert) => void alerts.push(alert) };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'strongbox-deferred-'));
  s3 = await startS3Server();
  dynalite = await startDynalite({});
  client = makeDynamoClient({ endpoint: dynalite.endpoint });
  await ensureCatalogTable(client, TABLE);
  const documents = toDocumentClient(client);
  walCatalog = new DynamoWalCatalog(documents, TABLE);
  catalog = new DynamoCatalog(documents, TABLE);
  storage = new S3Storage(s3.client, s3.bucket, { prefix: PREFIX });
  const presigner = new S3Presigner(s3.client, s3.bucket, { prefix: PREFIX });
  // No object events wired: each test hands the record's event to the handler itself, as S3 would.
  const deps = { storage, alerts: alertPublisher, log: captureLog(), clock: () => new Date(), codec: walCodec, presigner };
  endpoint = await startArchiveEndpoint({ host: '127.0.0.1', token: TOKEN, deps, mode: 'presign', maxSegmentBytes: 2 * MIB });
}, 60_000);

afterAll(async () => {
  await endpoint?.stop();
  await s3?.stop();
  client?.destroy();
  await dynalite?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, path: string, json?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${endpoint.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  return { status: response.status, json: await response.json() };
}

async function pushed(name: string, file: DeclaredFile) {
  const prepare = await api('POST', `/v1/wal/app/${name}`, file.declaration);
  expect(prepare.json).toMatchObject({ status: 'upload', complete: true });
  const put = await fetch(prepare.json.url, { method: 'PUT', headers: prepare.json.headers, body: file.stored });
  await put.arrayBuffer();
  expect(put.status).toBe(200);
  return api('POST', `/v1/wal/app/${name}/complete`, file.declaration);
}

/** The record's ObjectCreated event, handled as the catalogIndex function handles it in AWS. */
async function recordEvent(name: string) {
  const handler = catalogIndexHandler({ storage, catalog, walCatalog, log: captureLog(), alerts: alertPublisher });
  return handler(objectCreatedEvent({ bucket: s3.bucket, key: walRecordKey('app', name), size: 1, time: new Date() }));
}

const name = (segno: number) => `0000000100000000000000${segno.toString(16).toUpperCase().padStart(2, '0')}`;

/** A segment whose stored zstd stream decodes, past its first blocks, to other bytes than the ones it declares. */
function damagedLater(segno: number): DeclaredFile {
  const honest = fakeSegment({ segno: BigInt(segno) });
  const other = Buffer.from(honest);
  other[700 * 1024] = other[700 * 1024]! ^ 0xff;
  const lying = declareSegment(other, 'zstd');
  // The host declares the honest file's SHA-256, and uploads (and hashes) the other one's stream.
  return declareForged(lying.stored, { ...lying.declaration, sha256: sha256(honest) }, 'zstd');
}

describe('complete for a compressed object: a bounded prefix, then the asynchronous check', () => {
  it('a good zstd segment completes after a ranged GET of its prefix only; its record says deferred; its event checks and indexes it', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 1n }), 'zstd');
    expect(file.stored.length).toBeGreaterThan(PREFIX_BYTES);
    const whole = vi.spyOn(storage, 'get');
    const ranged = vi.spyOn(storage, 'getRange');
    let complete: Awaited<ReturnType<typeof pushed>>;
    try {
      // Act
      complete = await pushed(name(1), file);
      // Assess
      expect(whole).not.toHaveBeenCalled();
      expect(ranged.mock.calls).toEqual([[walObjectKey('app', name(1), 'zstd'), 0, PREFIX_BYTES]]);
    } finally {
      whole.mockRestore();
      ranged.mockRestore();
    }
    expect(complete.status).toBe(201);
    expect(complete.json.record).toMatchObject({ decodedCheck: 'deferred', sha256: file.declaration.sha256 });
    // Act: the record's event
    const indexed = await recordEvent(name(1));
    // Assess
    expect(indexed.indexed).toEqual([name(1)]);
    expect(await walCatalog.getWal('app', name(1))).toMatchObject({ sha256: file.declaration.sha256 });
  });

  it('a wrong header in the first frame is refused by complete itself: 422, object removed, nothing recorded', async () => {
    // Prepare: another cluster's segment, declared as this archive's
    const foreign = declareSegment(fakeSegment({ segno: 2n, systemId: OTHER_SYSTEM_ID }), 'zstd');
    const file = declareForged(foreign.stored, { ...foreign.declaration, systemId: SYSTEM_ID }, 'zstd');
    const whole = vi.spyOn(storage, 'get');
    try {
      // Act
      const complete = await pushed(name(2), file);
      // Assess
      expect(complete.status).toBe(422);
      expect(complete.json.error.code).toBe('WAL_HEADER_INVALID');
      expect(whole).not.toHaveBeenCalled();
    } finally {
      whole.mockRestore();
    }
    expect((await keysUnder(storage, 'wal/app/0000000100000000/')).filter((key) => key.includes(name(2)))).toEqual([]);
  });

  it('a stream that decodes to other bytes later (same header) is accepted by complete, then found damaged by its event: alert, record withdrawn, a gap, not fetchable', async () => {
    // Prepare: its neighbours archived and indexed, so that the damaged one is a hole between them
    for (const segno of [3, 5]) {
      expect((await pushed(name(segno), declareSegment(fakeSegment({ segno: BigInt(segno) }), 'zstd'))).status).toBe(201);
      await recordEvent(name(segno));
    }
    const file = damagedLater(4);
    const complete = await pushed(name(4), file);
    expect(complete.status).toBe(201);
    alerts.length = 0;
    // Act
    const indexed = await recordEvent(name(4));
    // Assess
    expect(indexed.indexed).toEqual([]);
    expect(indexed.damaged).toEqual([name(4)]);
    expect(alerts).toEqual([expect.objectContaining({ type: 'WAL_DAMAGED', severity: 'SEV2', code: 'WAL_DAMAGED', database: 'app' })]);
    expect(alerts[0]!.message).toContain(name(4));
    expect(await storage.head(walRecordKey('app', name(4)))).toBeUndefined();
    const note = JSON.parse((await storage.getBytes(walDamagedKey('app', name(4)))).toString());
    expect(note).toMatchObject({ format: 'strongbox-wal-damaged/1', code: 'CHECKSUM_MISMATCH', record: { name: name(4), sha256: file.declaration.sha256 } });
    expect(await walCatalog.getWal('app', name(4))).toBeUndefined();
    const ranges = (await walCatalog.listRanges('app', 1)).map((range) => [Number(range.from), Number(range.to)]);
    expect(ranges).toContainEqual([3, 3]);
    expect(ranges).toContainEqual([5, 5]);
    expect(ranges.some(([from, to]) => from! <= 4 && 4 <= to!)).toBe(false);
    const fetched = await api('GET', `/v1/wal/app/${name(4)}`);
    expect(fetched.status).toBe(404);
    expect(fetched.json.error.code).toBe('WAL_NOT_FOUND');
  });

  it('gzip completes from a prefix too and passes its check; none reads 40 bytes and is never deferred', async () => {
    // Prepare
    const gzip = declareSegment(fakeSegment({ segno: 6n }), 'gzip');
    const none = declareSegment(fakeSegment({ segno: 7n }));
    // Act
    const gz = await pushed(name(6), gzip);
    const plain = await pushed(name(7), none);
    const indexed = [await recordEvent(name(6)), await recordEvent(name(7))];
    // Assess
    expect(gz.status).toBe(201);
    expect(gz.json.record).toMatchObject({ compression: 'gzip', decodedCheck: 'deferred' });
    expect(plain.status).toBe(201);
    expect(plain.json.record.decodedCheck).toBeUndefined();
    expect(indexed.map((result) => result.indexed)).toEqual([[name(6)], [name(7)]]);
  });

  it('a small compressed object (at most the prefix) is checked whole by complete: never deferred', async () => {
    // Prepare: a 1 MiB segment of zeros after its header compresses to a few hundred bytes
    const segment = fakeSegment({ segno: 8n });
    segment.fill(0, 64);
    const file = declareSegment(segment, 'zstd');
    expect(file.stored.length).toBeLessThan(PREFIX_BYTES);
    // Act
    const complete = await pushed(name(8), file);
    // Assess
    expect(complete.status).toBe(201);
    expect(complete.json.record.decodedCheck).toBeUndefined();
    expect(sha256(segment)).toBe(complete.json.record.sha256);
  });

  it('a deferred record whose event never came is checked by reconciliation: a good one indexed, a damaged one withdrawn', async () => {
    // Prepare: archived, events lost
    const good = declareSegment(fakeSegment({ segno: 9n }), 'zstd');
    expect((await pushed(name(9), good)).status).toBe(201);
    expect((await pushed(name(10), damagedLater(10))).status).toBe(201);
    alerts.length = 0;
    // Act
    const report = await reconcileWal({ storage, walCatalog, codec: walCodec, log: captureLog(), clock: () => new Date(Date.now() + 2 * 3600_000), alerts: alertPublisher }, { databases: ['app'] });
    // Assess
    expect(await walCatalog.getWal('app', name(9))).toMatchObject({ sha256: good.declaration.sha256 });
    expect(await walCatalog.getWal('app', name(10))).toBeUndefined();
    expect(await storage.head(walRecordKey('app', name(10)))).toBeUndefined();
    expect(report.skipped.map((skip) => skip.key)).toContain(walRecordKey('app', name(10)));
    expect(alerts.map((alert) => alert.type)).toContain('WAL_DAMAGED');
  });

  it('reconciliation keeps its cursor at a folder whose deferred record could not be read, and checks it on the next run', async () => {
    // Prepare: two folders, events lost; the first folder's object unreadable during the first run
    const early = declareSegment(fakeSegment({ segno: 16n }), 'zstd');
    expect((await pushed(name(16), early)).status).toBe(201);
    const laterName = '000000010000000100000000';
    const later = declareSegment(fakeSegment({ segno: 4096n }), 'zstd');
    expect((await pushed(laterName, later)).status).toBe(201);
    const deps = { storage, walCatalog, codec: walCodec, log: captureLog(), clock: () => new Date(Date.now() + 2 * 3600_000), alerts: alertPublisher };
    const read = storage.get.bind(storage);
    const failing = vi.spyOn(storage, 'get').mockImplementation(async (key: string) => {
      if (key === walObjectKey('app', name(16), 'zstd')) throw new StorageError('s3rver went away for a moment', 'retry');
      return read(key);
    });
    // Act
    let first: Awaited<ReturnType<typeof reconcileWal>>;
    try {
      first = await reconcileWal(deps, { databases: ['app'] });
    } finally {
      failing.mockRestore();
    }
    const missedFirst = await walCatalog.getWal('app', name(16));
    await reconcileWal(deps, { databases: ['app'] });
    // Assess: skipped, not withdrawn, the later folder indexed; the next run checks and indexes it
    expect(first.skipped.map((skip) => skip.key)).toContain(walRecordKey('app', name(16)));
    expect(missedFirst).toBeUndefined();
    expect(await walCatalog.getWal('app', laterName)).toMatchObject({ sha256: later.declaration.sha256 });
    expect(await walCatalog.getWal('app', name(16))).toMatchObject({ sha256: early.declaration.sha256 });
  });

  it('catalog rebuild checks a deferred record before indexing it: a good one indexed, a damaged one withdrawn, none without a codec', async () => {
    // Prepare: archived, events lost
    const good = declareSegment(fakeSegment({ segno: 13n }), 'zstd');
    expect((await pushed(name(13), good)).status).toBe(201);
    expect((await pushed(name(14), damagedLater(14))).status).toBe(201);
    const unchecked = declareSegment(fakeSegment({ segno: 15n }), 'zstd');
    expect((await pushed(name(15), unchecked)).status).toBe(201);
    alerts.length = 0;
    const deps = { storage, walCatalog, log: captureLog(), clock: () => new Date(), alerts: alertPublisher };
    // Act: without a codec first (nothing deferred is indexed), then with one
    const blind = await rebuildWalIndex(deps);
    const unindexed = await walCatalog.getWal('app', name(13));
    const report = await rebuildWalIndex({ ...deps, codec: walCodec });
    // Assess
    expect(unindexed).toBeUndefined();
    expect(blind.skipped.map((skip) => skip.key)).toEqual(expect.arrayContaining([walRecordKey('app', name(13)), walRecordKey('app', name(15))]));
    expect(await walCatalog.getWal('app', name(13))).toMatchObject({ sha256: good.declaration.sha256 });
    expect(await walCatalog.getWal('app', name(15))).toMatchObject({ sha256: unchecked.declaration.sha256 });
    expect(await walCatalog.getWal('app', name(14))).toBeUndefined();
    expect(await storage.head(walRecordKey('app', name(14)))).toBeUndefined();
    expect(await storage.head(walDamagedKey('app', name(14)))).toBeDefined();
    expect(report.skipped.map((skip) => skip.key)).toContain(walRecordKey('app', name(14)));
    expect(alerts.map((alert) => alert.type)).toContain('WAL_DAMAGED');
  });
});

describe('local mode: the deferred checks on the event queue (deliverObjectEvents with deferChecks, as the benchmark runs it)', () => {
  it('complete answers before the check; idle() resolves once the good file is indexed and the damaged one withdrawn', async () => {
    // Prepare: its own repository prefix, endpoint and event delivery
    const local = new S3Storage(s3.client, s3.bucket, { prefix: 'local' });
    const events = deliverObjectEvents({ storage: local, catalog, walCatalog, alerts: alertPublisher, log: captureLog(), clock: () => new Date() }, { deferChecks: true });
    const presigner = new S3Presigner(s3.client, s3.bucket, { prefix: 'local' });
    const own = await startArchiveEndpoint({ host: '127.0.0.1', token: TOKEN, deps: { storage: local, alerts: alertPublisher, log: captureLog(), clock: () => new Date(), codec: walCodec, presigner }, mode: 'presign', maxSegmentBytes: 2 * MIB });
    const push = async (segno: number, file: DeclaredFile) => {
      const call = (path: string) => fetch(`${own.url}/v1/wal/local/${name(segno)}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(file.declaration) });
      const plan = (await (await call('')).json()) as { url: string; headers: Record<string, string> };
      expect((await fetch(plan.url, { method: 'PUT', headers: plan.headers, body: file.stored })).status).toBe(200);
      return (await call('/complete')).status;
    };
    try {
      // Act
      const statuses = [await push(11, declareSegment(fakeSegment({ segno: 11n }), 'zstd')), await push(12, damagedLater(12))];
      await events.idle();
      // Assess
      expect(statuses).toEqual([201, 201]);
      expect(events.stats().ran).toBe(2);
      expect(await walCatalog.getWal('local', name(11))).toBeDefined();
      expect(await walCatalog.getWal('local', name(12))).toBeUndefined();
      expect(await local.head(walRecordKey('local', name(12)))).toBeUndefined();
      expect(await local.head(walDamagedKey('local', name(12)))).toBeDefined();
    } finally {
      await own.stop();
    }
  });
});
