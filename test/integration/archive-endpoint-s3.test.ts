import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/archive-endpoint/http-server';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog, keysUnder } from '../support/stack';
import { declareSegment, declareSmallFile, fakeSegment, MIB, OTHER_SYSTEM_ID, sha256, SYSTEM_ID, type DeclaredFile } from '../support/wal-files';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';

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
  const deps = { storage, alerts, log: captureLog(), clock: () => new Date(), presigner, codec: walCodec };
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

  it('S3 refuses other bytes than the declared ones under the presigned URL (BadDigest); complete then answers 422 and records nothing', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 2n }));
    const name = '000000010000000000000002';
    const prepare = await api('POST', `/v1/wal/app/${name}`, file.declaration);
    const wrong = Buffer.from(file.stored);
    wrong[12345] = wrong[12345]! ^ 0x01; // same length, other SHA-256: the signed x-amz-checksum-sha256 no longer matches
    const refused = await fetch(prepare.json.url, { method: 'PUT', headers: prepare.json.headers, body: wrong });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('BadDigest');
    // Act
    const complete = await api('POST', `/v1/wal/app/${name}/complete`, file.declaration);
    const nothingUploaded = await api('POST', `/v1/wal/app/000000010000000000000003/complete`, declareSegment(fakeSegment({ segno: 3n })).declaration);
    // Assess
    expect(complete.status).toBe(422);
    expect(complete.json.error).toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining('no object was uploaded') });
    expect(nothingUploaded.status).toBe(422);
    expect(nothingUploaded.json.error.message).toContain('no object was uploaded');
    const keys = await keysUnder(storage, 'wal/app/0000000100000000/');
    expect(keys.filter((key) => key.includes(name) || key.includes('000000010000000000000003'))).toEqual([]);
  });

  it('complete trusts the SHA-256 S3 verified: an uncompressed segment is read no further than its header (one ranged GET)', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 5n }));
    const name = '000000010000000000000005';
    const whole = vi.spyOn(storage, 'get');
    const ranged = vi.spyOn(storage, 'getRange');
    try {
      // Act
      const complete = await pushed('app', name, file);
      // Assess
      expect(complete.status).toBe(201);
      expect(whole).not.toHaveBeenCalled();
      expect(ranged.mock.calls).toEqual([[walObjectKey('app', name, 'none'), 0, 40]]);
      const stored = await storage.headWithChecksum(walObjectKey('app', name, 'none'));
      expect(stored).toMatchObject({ size: file.stored.length, sha256: file.declaration.storedSha256 });
    } finally {
      whole.mockRestore();
      ranged.mockRestore();
    }
  });

  it('a host that lies in its declaration is still caught by the header check: 422 WAL_HEADER_INVALID, object removed, nothing recorded', async () => {
    // Prepare: the declared hashes are these bytes', but the segment comes from another cluster
    const forged = declareSegment(fakeSegment({ segno: 6n, systemId: OTHER_SYSTEM_ID }));
    const file = { stored: forged.stored, declaration: { ...forged.declaration, systemId: SYSTEM_ID } };
    const name = '000000010000000000000006';
    // Act
    const complete = await pushed('app', name, file);
    // Assess
    expect(complete.status).toBe(422);
    expect(complete.json.error.code).toBe('WAL_HEADER_INVALID');
    expect((await keysUnder(storage, 'wal/app/0000000100000000/')).filter((key) => key.includes(name))).toEqual([]);
  });

  it('an object at the key that storage verified with another SHA-256 is refused without reading it', async () => {
    // Prepare: what a PUT outside the presigned URL would leave (same size, its own checksum)
    const file = declareSegment(fakeSegment({ segno: 7n }));
    const other = fakeSegment({ segno: 7n });
    const name = '000000010000000000000007';
    const key = walObjectKey('app', name, 'none');
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${key}`, Body: other, ChecksumSHA256: Buffer.from(sha256(other), 'hex').toString('base64') }));
    const whole = vi.spyOn(storage, 'get');
    try {
      // Act
      const complete = await api('POST', `/v1/wal/app/${name}/complete`, file.declaration);
      // Assess
      expect(complete.status).toBe(422);
      expect(complete.json.error).toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining('as storage verified it on upload') });
      expect(whole).not.toHaveBeenCalled();
      expect(await storage.head(key)).toBeUndefined();
    } finally {
      whole.mockRestore();
    }
  });

  it('an object storage holds no SHA-256 for is read whole and checked as before', async () => {
    // Prepare: written without a checksum, other bytes of the same size
    const file = declareSegment(fakeSegment({ segno: 8n }));
    const name = '000000010000000000000008';
    const key = walObjectKey('app', name, 'none');
    await storage.putBytes(key, fakeSegment({ segno: 8n }));
    // Act
    const complete = await api('POST', `/v1/wal/app/${name}/complete`, file.declaration);
    // Assess
    expect(complete.status).toBe(422);
    expect(complete.json.error).toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining(file.declaration.storedSha256) });
    expect(await storage.head(key)).toBeUndefined();
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
