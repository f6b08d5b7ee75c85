import { CreateMultipartUploadCommand, DeleteObjectsCommand, GetObjectCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client, S3Storage } from '../../../shared/adapters/storage/s3';
import { isLocked } from '../../../shared/ports/storage';
import { StorageError } from '../../../shared/errors';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../../support/s3-server';
import { sha256, storageContract, streamOf } from './contract';

const MIB = 1024 * 1024;

async function incompleteUploads(client: S3Client, bucket: string): Promise<number> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return out.Uploads?.length ?? 0;
}

storageContract('S3Storage on s3rver', async () => {
  const server = await startS3Server();
  // Small pages and batches so that the contract's 30 keys page and batch for real.
  const storage = new S3Storage(server.client, server.bucket, { partSizeBytes: 5 * MIB, listPageSize: 7, deleteBatchSize: 2 });
  return { storage, teardown: () => server.stop(), listIncompleteUploads: () => incompleteUploads(server.client, server.bucket) };
});

describe('S3Storage specifics', () => {
  let server: S3TestServer;

  beforeAll(async () => {
    server = await startS3Server('strongbox-specifics');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores the exact bytes of a multipart and of a single-part stream', async () => {
    // Prepare
    const storage = new S3Storage(server.client, server.bucket, { partSizeBytes: 5 * MIB });
    const large = randomBytes(11 * MIB + 123);
    const small = randomBytes(4096);
    // Act
    await storage.putStream('exact/large', streamOf(large));
    await storage.putStream('exact/small', streamOf(small));
    // Assess: read back with the SDK itself, around the driver
    for (const [key, source] of [['exact/large', large], ['exact/small', small]] as const) {
      const out = await server.client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
      const stored = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
      expect(stored.length).toBe(source.length);
      expect(sha256(stored)).toBe(sha256(source));
    }
  });

  it('builds clients that send a stream body unframed (s3rver stores aws-chunked framing verbatim)', async () => {
    // Prepare
    const client = makeS3Client({ endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const data = randomBytes(100_000);
    try {
      // Act
      await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'unframed', Body: streamOf(data), ContentLength: data.length }));
      const out = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'unframed' }));
      // Assess
      expect(sha256(Buffer.from((await out.Body?.transformToByteArray()) ?? []))).toBe(sha256(data));
    } finally {
      client.destroy();
    }
  });

  it('builds clients that add checksums only where S3 requires them', async () => {
    const client = makeS3Client({ endpoint: 'http://127.0.0.1:1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    expect(await client.config.region()).toBe('us-east-1');
    client.destroy();
  });

  it('keeps its keys under the prefix and names itself s3://bucket/prefix', async () => {
    const storage = new S3Storage(server.client, server.bucket, { prefix: 'tenant/one/' });
    await storage.putBytes('k', 'under the prefix');
    const raw = await server.client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'tenant/one/k' }));
    expect(await raw.Body?.transformToString()).toBe('under the prefix');
    const keys: string[] = [];
    for await (const object of storage.list('')) keys.push(object.key);
    expect(keys).toEqual(['k']);
    expect(storage.location).toBe(`s3://${server.bucket}/tenant/one`);
  });

  it('tells ObjectCreated listeners the bucket and the ETag S3 gave', async () => {
    const storage = new S3Storage(server.client, server.bucket, { partSizeBytes: 5 * MIB });
    const seen: { key: string; bucket: string; etag?: string }[] = [];
    storage.onObjectCreated((info) => void seen.push(info));
    await storage.putBytes('etag/small', 'x');
    await storage.putStream('etag/multipart', streamOf(randomBytes(6 * MIB)));
    expect(seen.map((e) => [e.key, e.bucket])).toEqual([
      ['etag/small', server.bucket],
      ['etag/multipart', server.bucket],
    ]);
    expect(seen[0]?.etag).toBe('"9dd4e461268c8034f5c8564e155c67a6"'); // MD5 of "x"
    expect(seen[1]?.etag).toMatch(/^"[0-9a-f]{32}(-2)?"$/); // s3rver gives multipart uploads a plain MD5, S3 an md5-of-parts
  });

  it('pages through ListObjectsV2 with the continuation token', async () => {
    // Prepare: count the pages asked for
    const storage = new S3Storage(server.client, server.bucket, { listPageSize: 4 });
    const keys = Array.from({ length: 10 }, (_, i) => `paged/${i}`);
    await Promise.all(keys.map((key) => storage.putBytes(key, key)));
    let pages = 0;
    server.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ListObjectsV2Command') pages += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countListPages' },
    );
    // Act
    const listed: string[] = [];
    try {
      for await (const object of storage.list('paged/')) listed.push(object.key);
    } finally {
      server.client.middlewareStack.remove('countListPages');
    }
    // Assess
    expect(listed).toEqual(keys);
    expect(pages).toBe(3);
  });

  it('sees an incomplete multipart upload, so the contract would catch one left behind', async () => {
    const created = await server.client.send(new CreateMultipartUploadCommand({ Bucket: server.bucket, Key: 'left/behind' }));
    expect(await incompleteUploads(server.client, server.bucket)).toBe(1);
    await server.client.send(new AbortMultipartUploadCommand({ Bucket: server.bucket, Key: 'left/behind', UploadId: created.UploadId }));
    expect(await incompleteUploads(server.client, server.bucket)).toBe(0);
  });

  it('fails with a StorageError that points at the bucket name when the bucket does not exist', async () => {
    const storage = new S3Storage(server.client, 'no-such-bucket');
    for (const attempt of [() => storage.putBytes('k', 'x'), () => storage.getBytes('k'), () => storage.putStream('k', streamOf(Buffer.from('x')))]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: 'STORAGE_FAILED', hint: expect.stringMatching(/bucket name/) });
      expect((error as Error).message).toMatch(/NoSuchBucket/);
    }
  });

  it('fails with a StorageError that points at the endpoint when nothing answers there', async () => {
    // Prepare: a server that was there and is gone
    const gone = await startS3Server('gone');
    await gone.stop();
    const client = makeS3Client({ endpoint: gone.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const storage = new S3Storage(client, gone.bucket);
    try {
      // Act
      const errors = await Promise.all([storage.putBytes('k', 'x'), storage.getBytes('k'), storage.head('k')].map((p) => p.catch((e: unknown) => e)));
      // Assess
      for (const error of errors) {
        expect(error).toBeInstanceOf(StorageError);
        expect(error).toMatchObject({ code: 'STORAGE_FAILED', hint: expect.stringMatching(/endpoint/) });
      }
    } finally {
      client.destroy();
    }
  });

  it('reports keys that DeleteObjects could not delete as a StorageError', async () => {
    // s3rver never refuses a key in a batch: the response is mocked, asserting the exact command sent
    const client = new S3Client({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'p/b', Code: 'AccessDenied', Message: 'Access Denied' }] });
    const storage = new S3Storage(client, 'bucket', { prefix: 'p' });
    const error = await storage.delete(['a', 'b']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toMatch(/p\/b: AccessDenied/);
    expect(mock.commandCalls(DeleteObjectsCommand)[0]?.args[0].input).toEqual({ Bucket: 'bucket', Delete: { Objects: [{ Key: 'p/a' }, { Key: 'p/b' }], Quiet: true } });
    mock.restore();
  });
});

describe('S3Storage Object Lock (headers of a HEAD answered by a local HTTP endpoint: s3rver has no Object Lock)', () => {
  let endpoint: string;
  let server: Server;
  const answers = new Map<string, Record<string, string>>();
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      const headers = answers.get(request.url ?? '');
      if (request.method !== 'HEAD' || !headers) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-length': '42', 'last-modified': 'Mon, 01 Jun 2026 10:00:00 GMT', ...headers }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reports a retention date and a legal hold from HeadObject, and nothing for an unlocked object', async () => {
    // Prepare
    answers.set('/locked/wal/app/seg', { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': '2026-07-01T00:00:00.000Z' });
    answers.set('/locked/held', { 'x-amz-object-lock-legal-hold': 'ON' });
    answers.set('/locked/free', {});
    const client = makeS3Client({ endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, region: 'us-east-1' });
    const storage = new S3Storage(client, 'locked');
    try {
      // Act
      const locked = await storage.head('wal/app/seg');
      const held = await storage.head('held');
      const free = await storage.head('free');
      // Assess
      expect(locked).toMatchObject({ key: 'wal/app/seg', size: 42, retainUntil: new Date('2026-07-01T00:00:00.000Z') });
      expect(isLocked(locked, new Date('2026-06-30T23:59:59.000Z'))).toBe(true);
      expect(isLocked(locked, new Date('2026-07-01T00:00:00.000Z'))).toBe(false);
      expect(held).toMatchObject({ legalHold: true });
      expect(isLocked(held, new Date('2030-01-01T00:00:00.000Z'))).toBe(true);
      expect(free?.retainUntil).toBeUndefined();
      expect(free?.legalHold).toBeUndefined();
      expect(seen).toContain('HEAD /locked/wal/app/seg');
    } finally {
      client.destroy();
    }
  });
});

describe('S3Storage unfinished writes', () => {
  let server: S3TestServer;

  beforeAll(async () => {
    server = await startS3Server('strongbox-unfinished');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('lists the multipart uploads under its prefix page by page, with their start, and aborts one', async () => {
    // Prepare: five uploads under the storage's prefix, one beside it; pages of two
    const storage = new S3Storage(server.client, server.bucket, { prefix: 'site', listPageSize: 2 });
    const keys = ['logical/a', 'logical/b', 'logical/b', 'base/c', 'wal/d'];
    for (const key of [...keys.map((key) => `site/${key}`), 'elsewhere/e']) {
      await server.client.send(new CreateMultipartUploadCommand({ Bucket: server.bucket, Key: key }));
    }
    // Act
    const listed = [];
    for await (const write of storage.listUnfinished('')) listed.push(write);
    const logical = [];
    for await (const write of storage.listUnfinished('logical/')) logical.push(write);
    await storage.discardUnfinished(logical[0]!);
    await storage.discardUnfinished(logical[0]!); // already gone: fine
    // Assess
    expect(listed.map((write) => write.key).sort()).toEqual([...keys].sort());
    expect(new Set(listed.map((write) => write.ref)).size).toBe(5);
    for (const write of listed) expect(write.startedAt).toBeInstanceOf(Date);
    expect(logical.map((write) => write.key)).toEqual(['logical/a', 'logical/b', 'logical/b']);
    const after = [];
    for await (const write of storage.listUnfinished('logical/')) after.push(write.ref);
    expect(after).toEqual(logical.slice(1).map((write) => write.ref));
    expect(await incompleteUploads(server.client, server.bucket)).toBe(5);
  });
});
