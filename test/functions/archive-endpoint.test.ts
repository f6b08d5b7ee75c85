import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionDeps, makeArchiveEndpointHandler, type ArchiveEndpointFunctionDeps, type FunctionUrlResult } from '../../functions/archive-endpoint';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { walRecordKey } from '../../shared/domain/wal/keys';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog, type CapturedLog } from '../support/stack';
import { randomBytes } from 'node:crypto';
import { parseArchivers } from '../../shared/domain/wal/archivers';
import { archiveIdentityKey, walObjectKey } from '../../shared/domain/wal/keys';
import { IAM, urlEvent } from '../support/function-url';
import { declareForged, declareSegment, fakeSegment, MIB, OTHER_SYSTEM_ID, sha256, SYSTEM_ID, type DeclaredFile } from '../support/wal-files';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';

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
    codec: walCodec,
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

/** prepare, presigned PUT of `file.stored`, complete: what a host (or an attacker with its role) does. */
async function pushPresigned(database: string, name: string, file: DeclaredFile, iam?: unknown) {
  const prepare = await handle(urlEvent('POST', `/v1/wal/${database}/${name}`, { json: file.declaration, ...(iam ? { iam } : {}) }));
  const plan = bodyOf(prepare);
  if (prepare.statusCode !== 200 || plan.status !== 'upload') return { prepare, complete: prepare };
  const put = await fetch(plan.url, { method: 'PUT', headers: plan.headers, body: file.stored });
  expect(put.status).toBe(200);
  return { prepare, complete: await handle(urlEvent('POST', `/v1/wal/${database}/${name}/complete`, { json: file.declaration, ...(iam ? { iam } : {}) })) };
}

describe('archive endpoint function: complete verifies what S3 holds (issue 14, item 1)', () => {
  const name = '000000010000000000000001';
  const claims = { size: MIB, sha256: sha256(Buffer.from('x')), storedSize: 0, storedSha256: '', compression: 'zstd' as const, systemId: SYSTEM_ID, segmentSize: MIB, pgVersion: 15 };

  it.each([
    ['random bytes declared as a zstd segment', () => declareForged(randomBytes(200_000), claims, 'zstd'), 'WAL_CONTENT_INVALID'],
    ['a real segment whose header carries another cluster', () => {
      const file = declareSegment(fakeSegment({ segno: 1n, systemId: OTHER_SYSTEM_ID }), 'zstd');
      return { ...file, declaration: { ...file.declaration, systemId: SYSTEM_ID } };
    }, 'WAL_HEADER_INVALID'],
  ])('refuses %s with 422: the uploaded object is removed, nothing recorded, no identity; the real push is then stored', async (_label, forge, code) => {
    // Prepare
    const database = `presign-${code.toLowerCase()}`;
    const forged = forge();
    const real = declareSegment(fakeSegment({ segno: 1n }), 'zstd');
    // Act
    const refused = await pushPresigned(database, name, forged);
    const object = await deps.storage.head(walObjectKey(database, name, 'zstd'));
    const record = await deps.storage.head(walRecordKey(database, name));
    const identity = await deps.storage.head(archiveIdentityKey(database));
    const genuine = await pushPresigned(database, name, real);
    // Assess
    expect(refused.complete.statusCode).toBe(422);
    expect(bodyOf(refused.complete).error.code).toBe(code);
    expect([object, record, identity]).toEqual([undefined, undefined, undefined]);
    expect(genuine.complete.statusCode).toBe(201);
    expect(bodyOf(genuine.complete).record).toMatchObject({ sha256: real.declaration.sha256, systemId: SYSTEM_ID });
  });
});

describe('archive endpoint function: per-database authorisation of the archiver roles (issue 14, item 1)', () => {
  const crmHost = { ...IAM, userArn: 'arn:aws:sts::123456789012:assumed-role/crm-host/i-0def' };
  let scoped: (event: unknown) => Promise<FunctionUrlResult>;

  beforeAll(() => {
    scoped = makeArchiveEndpointHandler({ ...deps, archivers: parseArchivers('strongbox-db-host=app,shop-*;crm-host=crm') });
  });

  it('lets a role use its own databases only: another role\'s is 403 FORBIDDEN, an unconfigured one 403 DATABASE_NOT_SERVED, nothing created', async () => {
    // Prepare
    const file = declareSegment(fakeSegment({ segno: 1n }), 'zstd');
    const name = '000000010000000000000001';
    // Act
    const own = await scoped(urlEvent('GET', '/v1/wal/shop-eu/identity'));
    const crmOwn = await scoped(urlEvent('POST', `/v1/wal/crm/${name}`, { json: file.declaration, iam: crmHost }));
    const cross = await scoped(urlEvent('POST', `/v1/wal/crm/${name}`, { json: file.declaration }));
    const crossComplete = await scoped(urlEvent('POST', `/v1/wal/crm/${name}/complete`, { json: file.declaration }));
    const crossFetch = await scoped(urlEvent('GET', `/v1/wal/app/${name}`, { iam: crmHost }));
    const unconfigured = await scoped(urlEvent('POST', `/v1/wal/ledger/${name}`, { json: file.declaration }));
    const notARole = await scoped(urlEvent('GET', '/v1/wal/app/identity', { iam: { ...IAM, userArn: 'arn:aws:iam::123456789012:user/alice' } }));
    // Assess
    expect(own.statusCode).toBe(404); // allowed: the archive simply has no identity yet
    expect(bodyOf(crmOwn).status).toBe('upload');
    for (const result of [cross, crossComplete, crossFetch, notARole]) expect([result.statusCode, bodyOf(result).error.code]).toEqual([403, 'FORBIDDEN']);
    expect(bodyOf(cross).error.message).toContain('strongbox-db-host');
    expect([unconfigured.statusCode, bodyOf(unconfigured).error.code]).toEqual([403, 'DATABASE_NOT_SERVED']);
    expect(await deps.storage.head(archiveIdentityKey('ledger'))).toBeUndefined();
  });

  it('reads the rules from STRONGBOX_ARCHIVERS, and says once when the variable is unset that every role may use every database', async () => {
    // Act
    const wired = functionDeps({ STRONGBOX_BUCKET: s3.bucket, STRONGBOX_TABLE: 't', STRONGBOX_ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:t', STRONGBOX_ARCHIVERS: 'crm-host=crm' }, { s3: s3.client } as never);
    const open = captureLog();
    makeArchiveEndpointHandler({ ...deps, log: open });
    // Assess
    expect(wired.archivers?.get('crm-host')).toEqual(['crm']);
    expect(open.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: expect.stringContaining('STRONGBOX_ARCHIVERS is not set') }));
  });
});
