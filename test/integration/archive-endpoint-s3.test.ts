import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/adapters/archive-endpoint/http-server';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog, keysUnder } from '../support/stack';
import { declareSegment, declareSmallFile, fakeSegment, MIB, sha256, type DeclaredFile } from '../support/wal-files';

const TOKEN = 'presign-token-8d1e4b';
const PREFIX = 'repo';

let s3: S3TestServer;
let storage: S3Storage;
let endpoint: ArchiveEndpointServer;
const alerts = new ConsoleAlertPublisher(() => undefined);

beforeAll(async () => {
  s3 = await startS3Server();
  storage = new S3Storage(s3.client, s3.bucket, { prefix: PREFIX });
  const presigner = new S3Presigner(s3.client, s3.bucket, { prefix: PREFIX });
  const deps = { storage, alerts, log: captureLog(), clock: () => new Date(), presigner };
  endpoint = await startArchiveEndpoint({ host: '127.0.0.1', token: TOKEN, deps, mode: 'presign', maxSegmentBytes: 2 * MIB });
});

afterAll(async () => {
  await endpoint?.stop();
  await s3?.stop();
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

/** The host side's upload: straight to S3 with the presigned URL and its headers, no Authorization. */
async function upload(plan: { url: string; headers: Record<string, string> }, bytes: Buffer): Promise<number> {
  const response = await fetch(plan.url, { method: 'PUT', headers: plan.headers, body: bytes });
  await response.arrayBuffer();
  return response.status;
}

async function pushed(database: string, name: string, file: DeclaredFile) {
  const prepare = await api('POST', `/v1/wal/${database}/${name}`, file.declaration);
  expect(prepare.json).toMatchObject({ status: 'upload', method: 'PUT', complete: true });
  expect(await upload(prepare.json, file.stored)).toBe(200);
  return api('POST', `/v1/wal/${database}/${name}/complete`, file.declaration);
}

describe('archive endpoint (presign mode, S3-compatible repository)', () => {
  it('prepare hands out a presigned S3 PUT pinned to the declared size and SHA-256; complete verifies and records', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 1n }), 'gzip');
    const name = '000000010000000000000001';
    // Act
    const prepare = await api('POST', `/v1/wal/app/${name}`, file.declaration);
    const status = await upload(prepare.json, file.stored);
    const complete = await api('POST', `/v1/wal/app/${name}/complete`, file.declaration);
    const again = await api('POST', `/v1/wal/app/${name}/complete`, file.declaration);
    const prepareAgain = await api('POST', `/v1/wal/app/${name}`, file.declaration);
    // Assess
    expect(prepare.json.url).toMatch(new RegExp(`^${s3.endpoint}/${s3.bucket}/${PREFIX}/wal/app/0000000100000000/${name}\\.gz\\?.*X-Amz-Signature=`));
    expect(prepare.json.headers).toEqual({ 'content-length': String(file.stored.length), 'x-amz-checksum-sha256': Buffer.from(file.declaration.storedSha256, 'hex').toString('base64'), 'if-none-match': '*' });
    expect(new URL(prepare.json.url).searchParams.get('X-Amz-SignedHeaders')?.split(';')).toContain('if-none-match');
    expect(status).toBe(200);
    expect(complete.status).toBe(201);
    expect(complete.json).toMatchObject({ status: 'stored', record: { name, objectKey: walObjectKey('app', name, 'gzip'), storedSha256: file.declaration.storedSha256 } });
    expect(JSON.parse((await storage.getBytes(walRecordKey('app', name))).toString())).toEqual(complete.json.record);
    expect(again.status).toBe(200);
    expect(again.json.status).toBe('exists');
    expect(prepareAgain.json.status).toBe('exists');
  });

  it('complete answers 422 for uploaded bytes that are not the declared ones, removing them and recording nothing', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 2n }));
    const name = '000000010000000000000002';
    const prepare = await api('POST', `/v1/wal/app/${name}`, file.declaration);
    const wrong = Buffer.from(file.stored);
    wrong[12345] = wrong[12345]! ^ 0x01; // same length: s3rver does not check the signed SHA-256, so it takes these
    expect(await upload(prepare.json, wrong)).toBe(200);
    // Act
    const complete = await api('POST', `/v1/wal/app/${name}/complete`, file.declaration);
    const nothingUploaded = await api('POST', `/v1/wal/app/000000010000000000000003/complete`, declareSegment(fakeSegment({ segno: 3n })).declaration);
    // Assess
    expect(complete.status).toBe(422);
    expect(complete.json.error).toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining(file.declaration.storedSha256) });
    expect(nothingUploaded.status).toBe(422);
    expect(nothingUploaded.json.error.message).toContain('no object was uploaded');
    const keys = await keysUnder(storage, 'wal/app/0000000100000000/');
    expect(keys.filter((key) => key.includes(name) || key.includes('000000010000000000000003'))).toEqual([]);
  });

  it('fetch hands out a presigned GET of the stored bytes; an unarchived file is 404 WAL_NOT_FOUND', async () => {
    // Prepare
    const file = declareSmallFile('1\t0/5000000\tno recovery target specified\n');
    expect((await pushed('app', '00000002.history', file)).status).toBe(201);
    // Act
    const found = await api('GET', '/v1/wal/app/00000002.history');
    const download = await fetch(found.json.url, { headers: found.json.headers });
    const bytes = Buffer.from(await download.arrayBuffer());
    const missing = await api('GET', '/v1/wal/app/00000003.history');
    // Assess
    expect(found.json).toMatchObject({ status: 'found', record: { kind: 'history', objectKey: 'wal/app/history/00000002.history' } });
    expect(found.json.url).toContain(`/${s3.bucket}/${PREFIX}/wal/app/history/00000002.history?`);
    expect(download.status).toBe(200);
    expect(sha256(bytes)).toBe(file.declaration.storedSha256);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('WAL_NOT_FOUND');
  });

  it('has no bytes routes in presign mode (404 with a hint)', async () => {
    // Act
    const get = await api('GET', '/v1/wal/app/00000002.history/body');
    const health = await api('GET', '/v1/health');
    // Assess
    expect(get.status).toBe(404);
    expect(get.json.error).toMatchObject({ code: 'NOT_FOUND', hint: expect.stringContaining('presigned') });
    expect(health.json).toMatchObject({ ok: true, mode: 'presign' });
  });
});
