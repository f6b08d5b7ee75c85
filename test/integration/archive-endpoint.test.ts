import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { nativeZstd } from '../../shared/wal-host/native-zstd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/archive-endpoint/http-server';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { Storage } from '../../shared/ports/storage';
import { StorageError } from '../../shared/errors';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { captureLog, keysUnder, type CapturedLog } from '../support/stack';
import { declareForged, declareSegment, declareSmallFile, fakeSegment, MIB, OTHER_SYSTEM_ID, sha256, SYSTEM_ID, type DeclaredFile } from '../support/wal-files';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';

const TOKEN = 'tok-3f9a1c7e5b2d48e6a0c1';
const SEG1 = '000000010000000000000001';
const SEG2 = '000000010000000000000002';

let dir: string;
let storage: FolderStorage;
let alerts: ConsoleAlertPublisher;
let log: CapturedLog;
let endpoint: ArchiveEndpointServer;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-archive-'));
  storage = new FolderStorage(dir);
  alerts = new ConsoleAlertPublisher(() => undefined);
  log = captureLog();
  endpoint = await startArchiveEndpoint({ host: '127.0.0.1', port: 0, token: TOKEN, deps: { storage, alerts, log, clock: () => new Date(), codec: walCodec }, mode: 'bytes', maxSegmentBytes: 2 * MIB });
});

afterAll(async () => {
  agent.destroy();
  await endpoint?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  bytes: Buffer;
  headers: Record<string, string | string[] | undefined>;
  reusedSocket: boolean;
}

interface CallOptions {
  json?: unknown;
  body?: Buffer;
  headers?: Record<string, string>;
  token?: string | null;
  /** Send the body chunked, without Content-Length. */
  chunked?: boolean;
  base?: string;
}

/** One request with node:http, so that the path is sent exactly as written (fetch would normalise it). */
function call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const body = options.json !== undefined ? Buffer.from(JSON.stringify(options.json)) : options.body;
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? TOKEN}`;
  if (body && !options.chunked) headers['content-length'] = String(body.length);
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(options.base ?? endpoint.url);
    const req = httpRequest({ hostname, port, path, method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const isJson = String(res.headers['content-type']).startsWith('application/json');
        resolve({ status: res.statusCode ?? 0, json: isJson ? JSON.parse(bytes.toString()) : undefined, bytes, headers: res.headers, reusedSocket: req.reusedSocket });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** prepare + PUT as the host side does. */
async function push(database: string, name: string, file: DeclaredFile, base?: string): Promise<{ prepare: Answer; put?: Answer }> {
  const prepare = await call('POST', `/v1/wal/${database}/${name}`, { json: file.declaration, base });
  if (prepare.json?.status !== 'upload') return { prepare };
  const put = await call('PUT', new URL(prepare.json.url).pathname, { body: file.stored, headers: prepare.json.headers, base });
  return { prepare, put };
}

async function archived(database: string): Promise<string[]> {
  return (await keysUnder(storage, `wal/${database}/`)).filter((key) => !key.endsWith('archive.json'));
}

/** `real` with another putStream (failingMidUpload's object cannot reach FolderStorage's private fields for the other methods). */
function withPutStream(real: Storage, faulty: Pick<Storage, 'putStream'>, putBytes?: Storage['putBytes']): Storage {
  return {
    location: real.location,
    bucket: real.bucket,
    putStream: (key, body, options) => faulty.putStream(key, body, options),
    putBytes: putBytes ?? ((key, body, options) => real.putBytes(key, body, options)),
    get: (key) => real.get(key),
    getBytes: (key) => real.getBytes(key),
    head: (key) => real.head(key),
    list: (prefix) => real.list(prefix),
    delete: (keys) => real.delete(keys),
    onObjectCreated: (listener) => real.onObjectCreated(listener),
  };
}

/** A stream of `bytes` that fails with a StorageError after `after` of them, pulled lazily (nothing flows before its reader is there). */
function failingAfter(bytes: Buffer, after: number, message: string): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return this.destroy(new StorageError(message, 'check the storage'));
      sent = true;
      this.push(bytes.subarray(0, after));
    },
  });
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('archive endpoint (bytes mode, folder repository)', () => {
  it('answers health with the mode, and refuses a missing or wrong token with 401', async () => {
    // Act
    const health = await call('GET', '/v1/health');
    const none = await call('GET', '/v1/health', { token: null });
    const wrong = await call('GET', '/v1/health', { token: `${TOKEN.slice(0, -1)}x` });
    const short = await call('GET', '/v1/wal/app/identity', { token: 'x' });
    // Assess
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ok: true, mode: 'bytes' });
    for (const answer of [none, wrong, short]) {
      expect(answer.status).toBe(401);
      expect(answer.json.error).toMatchObject({ code: 'UNAUTHENTICATED', hint: expect.stringContaining('Bearer') });
    }
    expect(JSON.stringify(log.lines)).not.toContain(TOKEN);
  });

  it('pushes a segment: prepare, PUT of the bytes, record written, identity created; a repeat is `exists` on a reused connection', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 1n }), 'gzip');
    // Act
    const { prepare, put } = await push('app', SEG1, file);
    const again = await push('app', SEG1, file);
    const putAgain = await call('PUT', `/v1/wal/app/${SEG1}/body`, { body: file.stored, headers: prepare.json.headers });
    // Assess
    expect(prepare.json).toMatchObject({ status: 'upload', method: 'PUT', url: `${endpoint.url}/v1/wal/app/${SEG1}/body`, complete: false });
    expect(put?.status).toBe(201);
    expect(put?.json).toMatchObject({ status: 'stored', record: { name: SEG1, kind: 'segment', timeline: 1, segno: '1', startLsn: '0/100000', endLsn: '0/200000', compression: 'gzip', systemId: file.declaration.systemId } });
    expect(sha256(await storage.getBytes(walObjectKey('app', SEG1, 'gzip')))).toBe(file.declaration.storedSha256);
    expect(JSON.parse((await storage.getBytes(walRecordKey('app', SEG1))).toString())).toEqual(put?.json.record);
    expect((await call('GET', '/v1/wal/app/identity')).json).toMatchObject({ systemId: file.declaration.systemId, segmentSize: MIB, pgVersion: 15 });
    expect(again.prepare.status).toBe(200);
    expect(again.prepare.json).toEqual({ status: 'exists', record: put?.json.record });
    expect(putAgain.status).toBe(200);
    expect(putAgain.json.status).toBe('exists');
    expect(putAgain.reusedSocket).toBe(true);
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'archive request', attributes: expect.objectContaining({ method: 'PUT', route: 'body', database: 'app', wal: SEG1, status: 201 }) }));
  });

  it('refuses other bytes under an archived name with 409 WAL_CONFLICT and a SEV2 alert, keeping the archived copy', async () => {
    // Prepare
    const first = declareSegment(fakeSegment({ segno: 2n }));
    await push('app', SEG2, first);
    const other = declareSegment(fakeSegment({ segno: 2n }));
    // Act
    const prepare = await call('POST', `/v1/wal/app/${SEG2}`, { json: other.declaration });
    const put = await call('PUT', `/v1/wal/app/${SEG2}/body`, { body: other.stored, headers: { 'x-strongbox-declaration': Buffer.from(JSON.stringify(other.declaration)).toString('base64') } });
    // Assess
    expect(prepare.status).toBe(409);
    expect(prepare.json.error.code).toBe('WAL_CONFLICT');
    expect(put.status).toBe(409);
    expect(alerts.published.filter((alert) => alert.type === 'WAL_CONFLICT')).toHaveLength(2);
    expect(alerts.published.at(-1)).toMatchObject({ severity: 'SEV2', database: 'app', code: 'WAL_CONFLICT', hint: expect.stringContaining('two clusters') });
    expect(sha256(await storage.getBytes(walObjectKey('app', SEG2, 'none')))).toBe(first.declaration.storedSha256);
  });

  it('fetches an archived file (GET then its body) and answers 404 WAL_NOT_FOUND for a file with no record', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 3n }));
    await push('fetch', '000000010000000000000003', file);
    await storage.putBytes(walObjectKey('fetch', '000000010000000000000004', 'none'), 'bytes without a record');
    // Act
    const found = await call('GET', '/v1/wal/fetch/000000010000000000000003');
    const body = await call('GET', new URL(found.json.url).pathname);
    const unrecorded = await call('GET', '/v1/wal/fetch/000000010000000000000004');
    const missingBody = await call('GET', '/v1/wal/fetch/000000010000000000000005/body');
    const noIdentity = await call('GET', '/v1/wal/nothing-yet/identity');
    // Assess
    expect(found.json).toMatchObject({ status: 'found', record: { name: '000000010000000000000003', storedSha256: file.declaration.storedSha256 }, headers: {} });
    expect(body.status).toBe(200);
    expect(sha256(body.bytes)).toBe(file.declaration.storedSha256);
    expect(body.headers['x-strongbox-stored-sha256']).toBe(file.declaration.storedSha256);
    for (const answer of [unrecorded, missingBody, noIdentity]) {
      expect(answer.status).toBe(404);
      expect(answer.json.error.code).toBe('WAL_NOT_FOUND');
    }
  });

  it('never overwrites a .history file', async () => {
    // Prepare
    const original = declareSmallFile('1\t0/3000000\tno recovery target specified\n');
    // Act
    const stored = await push('hist', '00000002.history', original);
    const same = await push('hist', '00000002.history', original);
    const changed = await push('hist', '00000002.history', declareSmallFile('1\t0/4000000\tno recovery target specified\n'));
    // Assess
    expect(stored.put?.status).toBe(201);
    expect(stored.put?.json.record).toMatchObject({ kind: 'history', timeline: 2 });
    expect(stored.put?.json.record).not.toHaveProperty('segno');
    expect(same.prepare.json.status).toBe('exists');
    expect(changed.prepare.status).toBe(409);
    expect(changed.prepare.json.error.code).toBe('WAL_CONFLICT');
    expect(await storage.getBytes('wal/hist/history/00000002.history')).toEqual(original.stored);
  });

  it('refuses a segment of another cluster with 409 SYSTEM_ID_MISMATCH, storing nothing', async () => {
    // Prepare
    await push('sysid', SEG1, declareSegment(fakeSegment({ segno: 1n })));
    const foreign = declareSegment(fakeSegment({ segno: 2n, systemId: OTHER_SYSTEM_ID }));
    // Act
    const prepare = await call('POST', `/v1/wal/sysid/${SEG2}`, { json: foreign.declaration });
    const put = await call('PUT', `/v1/wal/sysid/${SEG2}/body`, { body: foreign.stored, headers: { 'x-strongbox-declaration': Buffer.from(JSON.stringify(foreign.declaration)).toString('base64') } });
    // Assess
    expect(prepare.status).toBe(409);
    expect(prepare.json.error).toMatchObject({ code: 'SYSTEM_ID_MISMATCH', message: expect.stringContaining(OTHER_SYSTEM_ID) });
    expect(put.status).toBe(409);
    expect(await archived('sysid')).toEqual([`wal/sysid/0000000100000000/${SEG1}`, `wal/sysid/0000000100000000/${SEG1}.json`]);
  });

  it.each([
    `/v1/wal/app/..%2F..%2F${SEG1}`,
    `/v1/wal/app%2F..%2Fother/${SEG1}`,
    `/v1/wal/app/../../../etc/passwd`,
    `/v1/wal/app/./${SEG1}`,
    `//v1/wal/app/${SEG1}`,
    `/v1/wal/app//${SEG1}`,
    `/v1/wal/app/${SEG1}?name=../../x`,
    `/v1/wal/app/${SEG1.toLowerCase().replace('1', 'a')}`,
    `/v1/wal/app/${SEG1}.json`,
    `/v1/wal/ap%70/${SEG1}`,
    `/v1/wal/.hidden/${SEG1}`,
  ])('refuses the path trick %s with 400 before touching storage', async (path) => {
    // Prepare
    const before = await keysUnder(storage, '');
    // Act
    const answer = await call('POST', path, { json: declareSegment(fakeSegment()).declaration });
    // Assess
    expect(answer.status).toBe(400);
    expect(['BAD_WAL_NAME', 'INPUT_INVALID']).toContain(answer.json.error.code);
    expect(await keysUnder(storage, '')).toEqual(before);
  });

  it('answers 404 for unknown routes (and …/complete in bytes mode) and 405 for a wrong method', async () => {
    // Act
    const unknown = await call('GET', '/v1/status');
    const complete = await call('POST', `/v1/wal/app/${SEG1}/complete`, { json: {} });
    const wrongMethod = await call('DELETE', `/v1/wal/app/${SEG1}`);
    // Assess
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'NOT_FOUND']);
    expect([complete.status, complete.json.error.code]).toEqual([404, 'NOT_FOUND']);
    expect(complete.json.error.hint).toContain('PUT');
    expect([wrongMethod.status, wrongMethod.json.error.code, wrongMethod.headers.allow]).toEqual([405, 'METHOD_NOT_ALLOWED', 'GET, POST']);
  });

  it('refuses bodies over their limits with 413, keeping nothing', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 6n }));
    const header = { 'x-strongbox-declaration': Buffer.from(JSON.stringify(file.declaration)).toString('base64') };
    const longer = Buffer.concat([file.stored, Buffer.alloc(100)]);
    // Act
    const announced = await call('PUT', '/v1/wal/big/000000010000000000000006/body', { body: longer, headers: header });
    const streamed = await call('PUT', '/v1/wal/big/000000010000000000000006/body', { body: longer, headers: header, chunked: true });
    const json = await call('POST', '/v1/wal/big/000000010000000000000006', { body: Buffer.alloc(17 * 1024, 0x20), headers: { 'content-type': 'application/json' } });
    const chunkedJson = await call('POST', '/v1/wal/big/000000010000000000000006', { body: Buffer.alloc(64 * 1024, 0x20), chunked: true });
    const huge = declareSegment(fakeSegment({ segno: 6n, segmentSize: 4 * MIB })).declaration;
    const overLimit = await call('POST', '/v1/wal/big2/000000010000000000000006', { json: huge });
    const overLimitPut = await call('PUT', '/v1/wal/big2/000000010000000000000006/body', { body: Buffer.alloc(10), headers: { 'x-strongbox-declaration': Buffer.from(JSON.stringify(huge)).toString('base64') } });
    // Assess
    for (const answer of [announced, streamed, json, chunkedJson, overLimit, overLimitPut]) {
      expect(answer.status).toBe(413);
      expect(answer.json.error.code).toBe('BODY_TOO_LARGE');
    }
    expect(await archived('big')).toEqual([]);
    expect(await archived('big2')).toEqual([]);
    expect(await readdir(join(dir, '.tmp'))).toEqual([]);
  });

  it('refuses bytes that do not hash to the declaration with 422, keeping nothing; the right bytes then go in', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 7n }));
    const damaged = Buffer.from(file.stored);
    damaged[500_000] = damaged[500_000]! ^ 0xff;
    const header = { 'x-strongbox-declaration': Buffer.from(JSON.stringify(file.declaration)).toString('base64') };
    // Act
    const bad = await call('PUT', '/v1/wal/hash/000000010000000000000007/body', { body: damaged, headers: header });
    const keysAfterBad = await archived('hash');
    const good = await call('PUT', '/v1/wal/hash/000000010000000000000007/body', { body: file.stored, headers: header });
    // Assess
    expect(bad.status).toBe(422);
    expect(bad.json.error.code).toBe('CHECKSUM_MISMATCH');
    expect(keysAfterBad).toEqual([]);
    expect(good.status).toBe(201);
  });

  it('keeps nothing of a body cut mid-stream by the client', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 8n }));
    const path = '/v1/wal/cut/000000010000000000000008/body';
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-length': String(file.stored.length), 'x-strongbox-declaration': Buffer.from(JSON.stringify(file.declaration)).toString('base64') };
    // Act
    const req = httpRequest(`${endpoint.url}${path}`, { method: 'PUT', headers });
    req.on('error', () => undefined);
    req.write(file.stored.subarray(0, 300_000));
    // The endpoint gathers a body in memory before it writes anything: give it time to receive the first part.
    await new Promise((resolve) => setTimeout(resolve, 300));
    req.destroy();
    await until(async () => log.lines.some((line) => line.attributes?.wal === '000000010000000000000008'), 'the request to end');
    await until(async () => (await readdir(join(dir, '.tmp'))).length === 0, 'the temporary file to go');
    // Assess
    expect(await archived('cut')).toEqual([]);
    expect((await push('cut', '000000010000000000000008', file)).put?.status).toBe(201);
  });

  it('answers 5xx STORAGE_FAILED when storage fails mid-upload, recording nothing', async () => {
    // Prepare
    // The endpoint writes a received body with putBytes: the real storage gets 100 kB of it, then the disk goes away.
    const failing = withPutStream(storage, storage, (key, body, options) => (key.endsWith('.json') ? storage.putBytes(key, body, options) : storage.putStream(key, failingAfter(Buffer.from(body), 100_000, 'the disk went away'), options)));
    const broken = await startArchiveEndpoint({ host: '127.0.0.1', token: TOKEN, deps: { storage: failing, alerts, log, clock: () => new Date(), codec: walCodec }, mode: 'bytes', maxSegmentBytes: 2 * MIB });
    const file = declareSegment(fakeSegment({ segno: 9n }));
    try {
      // Act
      const { prepare, put } = await push('fail', '000000010000000000000009', file, broken.url);
      // Assess
      expect(prepare.status).toBe(200);
      expect(put?.status).toBe(502);
      expect(put?.json.error).toMatchObject({ code: 'STORAGE_FAILED', message: expect.stringContaining('the disk went away') });
      expect(await archived('fail')).toEqual([]);
      expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', attributes: expect.objectContaining({ status: 502, wal: '000000010000000000000009' }) }));
    } finally {
      await broken.stop();
    }
  });

  it('answers 5xx STORAGE_FAILED when the record cannot be written: the file is not archived', async () => {
    // Prepare
    const refusingRecords = withPutStream(storage, storage, async (key, body, options) => {
      if (key.endsWith('.json') && !key.endsWith('archive.json')) throw new StorageError(`write ${key} failed: quota exceeded`, 'free space');
      return storage.putBytes(key, body, options);
    });
    const broken = await startArchiveEndpoint({ host: '127.0.0.1', token: TOKEN, deps: { storage: refusingRecords, alerts, log, clock: () => new Date(), codec: walCodec }, mode: 'bytes', maxSegmentBytes: 2 * MIB });
    const file = declareSegment(fakeSegment({ segno: 10n }));
    try {
      // Act
      const { put } = await push('norecord', '00000001000000000000000A', file, broken.url);
      const fetched = await call('GET', '/v1/wal/norecord/00000001000000000000000A');
      // Assess
      expect(put?.status).toBe(502);
      expect(put?.json.error.code).toBe('STORAGE_FAILED');
      expect(fetched.status).toBe(404);
      expect(await storage.head(walRecordKey('norecord', '00000001000000000000000A'))).toBeUndefined();
    } finally {
      await broken.stop();
    }
  });

  it('stops only once a request whose client went away has finished its writes: nothing is written after stop()', async () => {
    // Prepare: the record write waits at a gate; the client goes away while it waits
    let reached!: () => void;
    const atRecord = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = withPutStream(storage, storage, async (key, body, options) => {
      if (key.endsWith('.json') && !key.endsWith('archive.json')) {
        reached();
        await gate;
      }
      return storage.putBytes(key, body, options);
    });
    const server = await startArchiveEndpoint({ host: '127.0.0.1', token: TOKEN, deps: { storage: held, alerts, log, clock: () => new Date(), codec: walCodec }, mode: 'bytes', maxSegmentBytes: 2 * MIB });
    const name = '00000001000000000000000B';
    const file = declareSegment(fakeSegment({ segno: 11n }));
    const prepare = await call('POST', `/v1/wal/gone/${name}`, { json: file.declaration, base: server.url });
    const { hostname, port } = new URL(server.url);
    const headers = { ...prepare.json.headers, authorization: `Bearer ${TOKEN}`, 'content-length': String(file.stored.length) };
    const put = httpRequest({ hostname, port, path: new URL(prepare.json.url).pathname, method: 'PUT', headers, agent: false });
    put.on('error', () => undefined);
    put.end(file.stored);
    await atRecord;
    put.destroy();

    // Act: stop, and let the write go on only then
    const stopping = server.stop();
    release();
    await stopping;

    // Assess: the write that was under way is done by the time stop() resolved
    expect(await storage.head(walRecordKey('gone', name))).toBeDefined();
  });

  it('lets concurrent pushes of one segment take turns: one stored, the other exists', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 11n }));
    const header = { 'x-strongbox-declaration': Buffer.from(JSON.stringify(file.declaration)).toString('base64') };
    const path = '/v1/wal/race/00000001000000000000000B/body';
    const separate = new Agent({ keepAlive: false });
    // Act
    const answers = await Promise.all([0, 1, 2].map(() => new Promise<number>((resolve, reject) => {
      const { hostname, port } = new URL(endpoint.url);
      const req = httpRequest({ hostname, port, path, method: 'PUT', agent: separate, headers: { ...header, authorization: `Bearer ${TOKEN}`, 'content-length': String(file.stored.length) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(file.stored);
    })));
    // Assess
    expect(answers.sort()).toEqual([200, 200, 201]);
    expect(await archived('race')).toEqual(['wal/race/0000000100000000/00000001000000000000000B', 'wal/race/0000000100000000/00000001000000000000000B.json']);
  });

  it('detects losing the race to create the archive identity (storage refuses the second create-only write): 409, nothing recorded', async () => {
    // (The identity is created only once the bytes are verified: the PUT, not the prepare, finds the race.)
    // Prepare: another cluster's identity lands between our read and our create-only write.
    const racing = withPutStream(storage, storage, async (key, body, options) => {
      if (key === 'wal/lost/archive.json') {
        const theirs = JSON.parse(Buffer.from(body as Uint8Array | string).toString());
        await storage.putBytes(key, JSON.stringify({ ...theirs, systemId: OTHER_SYSTEM_ID }), { createOnly: true });
      }
      return storage.putBytes(key, body, options);
    });
    const raced = await startArchiveEndpoint({ host: '127.0.0.1', token: TOKEN, deps: { storage: racing, alerts, log, clock: () => new Date(), codec: walCodec }, mode: 'bytes', maxSegmentBytes: 2 * MIB });
    try {
      // Act
      const { prepare, put } = await push('lost', SEG1, declareSegment(fakeSegment({ segno: 1n })), raced.url);
      // Assess
      expect(prepare.status).toBe(200);
      expect(put?.status).toBe(409);
      expect(put?.json.error.code).toBe('SYSTEM_ID_MISMATCH');
      expect(await archived('lost')).toEqual([]);
    } finally {
      await raced.stop();
    }
  });
});

describe('archive endpoint: the trust boundary (issue 14, item 1)', () => {
  /** The declaration of a real 16 MiB zstd segment, for forgeries to claim. */
  const claims16 = { size: 16 * MIB, sha256: sha256(Buffer.from('whatever')), storedSize: 0, storedSha256: '', compression: 'zstd' as const, systemId: SYSTEM_ID, segmentSize: 16 * MIB, pgVersion: 15 };
  const claims1 = { ...claims16, size: MIB, segmentSize: MIB };

  it.each([
    ['a 1-byte body declared as a 16 MiB zstd segment', () => declareForged(Buffer.from([0x28]), claims16, 'zstd'), 'WAL_CONTENT_INVALID'],
    ['1 MB of random bytes declared as zstd', () => declareForged(randomBytes(1_000_000), claims1, 'zstd'), 'WAL_CONTENT_INVALID'],
    ['a gzip body that decodes to half a segment', () => declareForged(declareSegment(fakeSegment({ segno: 1n }).subarray(0, MIB / 2), 'gzip').stored, claims1, 'gzip'), 'WAL_CONTENT_INVALID'],
    ['a gzip body that decodes to twice the declared size', () => declareForged(gzipSync(Buffer.alloc(2 * MIB)), claims1, 'gzip'), 'WAL_CONTENT_INVALID'],
    ['a zstd frame that says it holds twice the declared size', () => declareForged(nativeZstd()!.compress(Buffer.alloc(2 * MIB), (n) => Buffer.alloc(n)), claims1, 'zstd'), 'WAL_CONTENT_INVALID'],
    ['a real segment whose header carries another cluster\'s system identifier', () => {
      const file = declareSegment(fakeSegment({ segno: 1n, systemId: OTHER_SYSTEM_ID }), 'zstd');
      return { ...file, declaration: { ...file.declaration, systemId: SYSTEM_ID } };
    }, 'WAL_HEADER_INVALID'],
    ['a real segment of another segment number (its page address)', () => declareSegment(fakeSegment({ segno: 5n }), 'zstd'), 'WAL_HEADER_INVALID'],
    ['a real segment of a later timeline', () => declareSegment(fakeSegment({ segno: 1n, timeline: 2 }), 'zstd'), 'WAL_HEADER_INVALID'],
    ['a segment whose decoded bytes are not the declared SHA-256', () => {
      const file = declareSegment(fakeSegment({ segno: 1n }), 'zstd');
      return { ...file, declaration: { ...file.declaration, sha256: sha256(Buffer.from('another file')) } };
    }, 'CHECKSUM_MISMATCH'],
  ])('refuses %s with 422, storing and recording nothing; PostgreSQL\'s real push of that name is then stored', async (_label, forge, code) => {
    // Prepare
    const database = `forged-${code.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`;
    const forged = forge();
    const real = declareSegment(fakeSegment({ segno: 1n }), 'zstd');
    // Act
    const refused = await push(database, SEG1, forged);
    const keysAfterRefusal = await keysUnder(storage, `wal/${database}/`);
    const genuine = await push(database, SEG1, real);
    // Assess
    expect(refused.prepare.status).toBe(200);
    expect(refused.put?.status).toBe(422);
    expect(refused.put?.json.error).toMatchObject({ code, message: expect.stringContaining('nothing was') });
    expect(keysAfterRefusal).toEqual([]); // no bytes, no record, no archive.json
    expect(genuine.put?.status).toBe(201);
    expect(genuine.put?.json.record).toMatchObject({ sha256: real.declaration.sha256, storedSha256: real.declaration.storedSha256, systemId: SYSTEM_ID });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'WAL push refused: the bytes are not the declared file', attributes: expect.objectContaining({ database, code }) }));
  });

  it('stores a segment whose frame says its size (decoded in one call) and one stored as two frames (decoded as a stream)', async () => {
    // Prepare: zstd as the WAL host writes it in-process (size in the frame), and the same bytes as two frames
    const raw = fakeSegment({ segno: 1n });
    const take = (n: number) => Buffer.alloc(n);
    const whole = nativeZstd()!.compress(raw, take);
    const halves = Buffer.concat([nativeZstd()!.compress(raw.subarray(0, MIB / 2), take), nativeZstd()!.compress(raw.subarray(MIB / 2), take)]);
    const declared = declareSegment(raw);
    const as = (stored: Buffer) => declareForged(stored, declared.declaration, 'zstd');

    // Act
    const one = await push('whole-frame', SEG1, as(whole));
    const two = await push('two-frames', SEG1, as(halves));

    // Assess
    expect([one.put?.status, two.put?.status]).toEqual([201, 201]);
    expect(one.put?.json.record).toMatchObject({ sha256: declared.declaration.sha256, storedSha256: sha256(whole) });
    expect(two.put?.json.record).toMatchObject({ sha256: declared.declaration.sha256, storedSha256: sha256(halves) });
  });

  it('creates no archive identity from a prepare alone: a hostile first request cannot fix it', async () => {
    // Prepare
    const foreign = declareSegment(fakeSegment({ segno: 1n, systemId: OTHER_SYSTEM_ID }), 'zstd');
    const real = declareSegment(fakeSegment({ segno: 1n }), 'zstd');
    // Act
    const prepared = await call('POST', `/v1/wal/unfixed/${SEG1}`, { json: foreign.declaration });
    const identity = await call('GET', '/v1/wal/unfixed/identity');
    const genuine = await push('unfixed', SEG1, real);
    // Assess
    expect(prepared.json.status).toBe('upload');
    expect(identity.status).toBe(404);
    expect(genuine.put?.status).toBe(201);
    expect((await call('GET', '/v1/wal/unfixed/identity')).json).toMatchObject({ systemId: SYSTEM_ID });
  });
});

describe('archive endpoint: one token per database, only configured databases (issue 14, item 1)', () => {
  const APP_TOKEN = 'tok-app-5d1f0e9c2b7a4c3e8f60';
  const CRM_TOKEN = 'tok-crm-a81c4f2e7d9b4e10b3c5';
  let scoped: ArchiveEndpointServer;

  beforeAll(async () => {
    scoped = await startArchiveEndpoint({
      host: '127.0.0.1',
      databaseTokens: new Map([['app1', APP_TOKEN], ['crm1', CRM_TOKEN]]),
      deps: { storage, alerts, log, clock: () => new Date(), codec: walCodec },
      mode: 'bytes',
      maxSegmentBytes: 2 * MIB,
    });
  });

  afterAll(async () => scoped?.stop());

  it('refuses a database the endpoint does not serve (403 DATABASE_NOT_SERVED) and another database\'s token (403 FORBIDDEN), creating nothing', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 1n }), 'zstd');
    const header = { 'x-strongbox-declaration': Buffer.from(JSON.stringify(file.declaration)).toString('base64') };
    const base = scoped.url;
    // Act
    const notServed = await call('POST', `/v1/wal/other1/${SEG1}`, { json: file.declaration, token: APP_TOKEN, base });
    const notServedPut = await call('PUT', `/v1/wal/other1/${SEG1}/body`, { body: file.stored, headers: header, token: APP_TOKEN, base });
    const crossPrepare = await call('POST', `/v1/wal/crm1/${SEG1}`, { json: file.declaration, token: APP_TOKEN, base });
    const crossPut = await call('PUT', `/v1/wal/crm1/${SEG1}/body`, { body: file.stored, headers: header, token: APP_TOKEN, base });
    const crossIdentity = await call('GET', '/v1/wal/crm1/identity', { token: APP_TOKEN, base });
    const own = await call('PUT', `/v1/wal/crm1/${SEG1}/body`, { body: file.stored, headers: header, token: CRM_TOKEN, base });
    const crossFetch = await call('GET', `/v1/wal/crm1/${SEG1}`, { token: APP_TOKEN, base });
    const unknownToken = await call('GET', '/v1/health', { token: TOKEN, base });
    // Assess
    for (const answer of [notServed, notServedPut]) expect([answer.status, answer.json.error.code]).toEqual([403, 'DATABASE_NOT_SERVED']);
    for (const answer of [crossPrepare, crossPut, crossIdentity, crossFetch]) expect([answer.status, answer.json.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(await keysUnder(storage, 'wal/other1/')).toEqual([]);
    expect(own.status).toBe(201);
    expect(unknownToken.status).toBe(401);
  });
});
