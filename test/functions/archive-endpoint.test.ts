import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArchiveEndpointHandler, type ArchiveEndpointFunctionDeps, type FunctionUrlResult } from '../../functions/archive-endpoint';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { walRecordKey } from '../../shared/domain/wal/keys';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog, type CapturedLog } from '../support/stack';
import { urlEvent } from '../support/function-url';
import { declareSegment, fakeSegment, sha256 } from '../support/wal-files';

let s3: S3TestServer;
let deps: ArchiveEndpointFunctionDeps;
let log: CapturedLog;
let handle: (event: unknown) => Promise<FunctionUrlResult>;

beforeAll(async () => {
  s3 = await startS3Server();
  log = captureLog();
  deps = {
    storage: new S3Storage(s3.client, s3.bucket),
    presigner: new S3Presigner(s3.client, s3.bucket),
    alerts: new ConsoleAlertPublisher(() => undefined),
    log,
    clock: () => new Date(),
  };
  handle = makeArchiveEndpointHandler(deps);
});

afterAll(async () => s3?.stop());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function bodyOf(result: FunctionUrlResult): any {
  return JSON.parse(result.body);
}

describe('archive endpoint function (Function URL, presign mode)', () => {
  it('pushes a segment: prepare (base64 body), presigned PUT to S3, complete → 201 stored; fetch hands out a working GET', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 4n }), 'gzip');
    const name = '000000010000000000000004';
    // Act
    const prepare = await handle(urlEvent('POST', `/v1/wal/app/${name}`, { json: file.declaration, base64: true }));
    const plan = bodyOf(prepare);
    const put = await fetch(plan.url, { method: 'PUT', headers: plan.headers, body: file.stored });
    const complete = await handle(urlEvent('POST', `/v1/wal/app/${name}/complete`, { json: file.declaration }));
    const found = bodyOf(await handle(urlEvent('GET', `/v1/wal/app/${name}`)));
    const download = Buffer.from(await (await fetch(found.url, { headers: found.headers })).arrayBuffer());
    // Assess
    expect(prepare.statusCode).toBe(200);
    expect(prepare.headers['content-type']).toBe('application/json');
    expect(plan).toMatchObject({ status: 'upload', method: 'PUT', complete: true, url: expect.stringContaining(`${s3.endpoint}/${s3.bucket}/wal/app/`) });
    expect(put.status).toBe(200);
    expect(complete.statusCode).toBe(201);
    expect(bodyOf(complete)).toMatchObject({ status: 'stored', record: { name, segno: '4', startLsn: '0/400000', endLsn: '0/500000' } });
    expect(await deps.storage.head(walRecordKey('app', name))).toBeDefined();
    expect(sha256(download)).toBe(file.declaration.storedSha256);
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'archive request', attributes: expect.objectContaining({ method: 'POST', route: 'complete', database: 'app', wal: name, status: 201 }) }));
  });

  it.each([
    ['no authorizer', null],
    ['an IAM authorizer without a caller', {}],
    ['an IAM authorizer with empty fields', { accessKey: '', userArn: '', callerId: '' }],
  ])('refuses a request with %s with 401 UNAUTHENTICATED', async (_label, iam) => {
    // Act
    const result = await handle(urlEvent('GET', '/v1/health', { iam }));
    // Assess
    expect(result.statusCode).toBe(401);
    expect(bodyOf(result).error).toMatchObject({ code: 'UNAUTHENTICATED', hint: expect.stringContaining('SigV4') });
  });

  it('answers the bytes-mode routes with 404 and a hint', async () => {
    // Act
    const get = await handle(urlEvent('GET', '/v1/wal/app/000000010000000000000004/body'));
    const put = await handle(urlEvent('PUT', '/v1/wal/app/000000010000000000000004/body', { json: {} }));
    // Assess
    for (const result of [get, put]) {
      expect(result.statusCode).toBe(404);
      expect(bodyOf(result).error).toMatchObject({ code: 'NOT_FOUND', hint: expect.stringContaining('presigned') });
    }
  });

  it('refuses query strings, encoded paths, oversized JSON and events that are not Function URL requests', async () => {
    // Act
    const query = await handle(urlEvent('GET', '/v1/wal/app/000000010000000000000004', { query: 'x=../y' }));
    const encoded = await handle(urlEvent('GET', '/v1/wal/app/..%2F000000010000000000000004'));
    const big = await handle(urlEvent('POST', '/v1/wal/app/000000010000000000000005', { json: { pad: 'x'.repeat(17 * 1024) } }));
    const garbage = await handle({ hello: 'world' });
    // Assess
    expect([query.statusCode, bodyOf(query).error.code]).toEqual([400, 'BAD_WAL_NAME']);
    expect([encoded.statusCode, bodyOf(encoded).error.code]).toEqual([400, 'BAD_WAL_NAME']);
    expect([big.statusCode, bodyOf(big).error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    expect([garbage.statusCode, bodyOf(garbage).error.code]).toEqual([400, 'INPUT_INVALID']);
  });

  it('answers 502 STORAGE_FAILED when the bucket is unreachable, and does not throw', async () => {
    // Prepare
    const broken = makeArchiveEndpointHandler({ ...deps, storage: new S3Storage(s3.client, 'no-such-bucket') });
    // Act
    const result = await broken(urlEvent('GET', '/v1/wal/app/identity'));
    // Assess
    expect(result.statusCode).toBe(502);
    expect(bodyOf(result).error).toMatchObject({ code: 'STORAGE_FAILED', hint: expect.stringContaining('bucket') });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', attributes: expect.objectContaining({ route: 'identity', status: 502 }) }));
  });
});
