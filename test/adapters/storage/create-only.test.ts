import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderStorage } from '../../../shared/adapters/storage/folder';
import { S3Storage } from '../../../shared/adapters/storage/s3';
import { hasConditionalDelete, type ObjectInfo, type Storage } from '../../../shared/ports/storage';
import { ObjectExistsError } from '../../../shared/errors';
import { startS3Server, type S3TestServer } from '../../support/s3-server';
import { sha256, streamOf } from './contract';

const MIB = 1024 * 1024;

interface Subject {
  storage: Storage;
  /** Multipart uploads left behind (S3) or temporary files left in `.tmp/` (folder). */
  leftovers(): Promise<number>;
  teardown(): Promise<void>;
}

/**
 * `createOnly` writes (storage.ts): the guarantee the WAL archive rests on. Run against the
 * repository folder and against s3rver behind the harness's S3 rule (s3-conditional.ts).
 */
function createOnlyContract(name: string, setup: () => Promise<Subject>): void {
  describe(`${name}: create-only writes`, () => {
    let subject: Subject;
    let storage: Storage;
    const created: string[] = [];

    beforeAll(async () => {
      subject = await setup();
      storage = subject.storage;
      storage.onObjectCreated((info: ObjectInfo) => void created.push(info.key));
    });
    afterAll(async () => subject?.teardown());

    it('writes a new key, then refuses the same key with ObjectExistsError and keeps the first bytes', async () => {
      // Prepare
      const first = randomBytes(3000);
      // Act
      const written = await storage.putBytes('once/a', first, { createOnly: true });
      const again = storage.putBytes('once/a', randomBytes(10), { createOnly: true });
      // Assess
      expect(written.sha256).toBe(sha256(first));
      await expect(again).rejects.toBeInstanceOf(ObjectExistsError);
      await expect(again).rejects.toMatchObject({ code: 'OBJECT_EXISTS', key: 'once/a' });
      expect(await storage.getBytes('once/a')).toEqual(first);
      expect(created.filter((key) => key === 'once/a')).toHaveLength(1);
      expect(await subject.leftovers()).toBe(0);
    });

    it('refuses a streamed write of several parts over an existing key and leaves no upload behind', async () => {
      // Prepare
      const first = randomBytes(1000);
      await storage.putBytes('once/stream', first);
      // Act
      const refused = storage.putStream('once/stream', streamOf(randomBytes(12 * MIB)), { createOnly: true });
      // Assess
      await expect(refused).rejects.toBeInstanceOf(ObjectExistsError);
      expect(await storage.getBytes('once/stream')).toEqual(first);
      expect(await subject.leftovers()).toBe(0);
    });

    it('a streamed create-only write of a new key stores it whole', async () => {
      const data = randomBytes(12 * MIB);
      const written = await storage.putStream('once/new-stream', streamOf(data), { createOnly: true });
      expect(written.sha256).toBe(sha256(data));
      expect(sha256(await storage.getBytes('once/new-stream'))).toBe(sha256(data));
    });

    it('of eight writers racing on one new key with different bytes, exactly one wins and its bytes are stored', async () => {
      // Prepare
      const bodies = Array.from({ length: 8 }, () => randomBytes(64 * 1024));
      // Act
      const results = await Promise.allSettled(bodies.map((body, index) => (index % 2 === 0 ? storage.putBytes('race/k', body, { createOnly: true }) : storage.putStream('race/k', streamOf(body), { createOnly: true }))));
      // Assess
      const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
      expect(winners).toHaveLength(1);
      for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(ObjectExistsError);
      expect(await storage.getBytes('race/k')).toEqual(bodies[winners[0]!]);
      expect(await subject.leftovers()).toBe(0);
    });

    it('deleteIfUnchanged deletes only the object a HEAD saw: not one written since, not a missing one', async () => {
      // Prepare
      if (!hasConditionalDelete(storage)) throw new Error('both drivers delete conditionally');
      await storage.putBytes('cond/k', 'first');
      const first = await storage.head('cond/k');
      await storage.putBytes('cond/k', 'second, longer');
      const second = await storage.head('cond/k');
      // Act
      const stale = await storage.deleteIfUnchanged('cond/k', first!.etag!);
      const kept = (await storage.getBytes('cond/k')).toString();
      const current = await storage.deleteIfUnchanged('cond/k', second!.etag!);
      const again = await storage.deleteIfUnchanged('cond/k', second!.etag!);
      // Assess
      expect(first?.etag).toBeDefined();
      expect(second?.etag).not.toBe(first?.etag);
      expect([stale, kept, current, again]).toEqual([false, 'second, longer', true, false]);
      expect(await storage.head('cond/k')).toBeUndefined();
      expect(await subject.leftovers()).toBe(0);
    });

    it('a plain write still replaces the object (create-only is per write)', async () => {
      await storage.putBytes('once/plain', 'one', { createOnly: true });
      await storage.putBytes('once/plain', 'two');
      expect((await storage.getBytes('once/plain')).toString()).toBe('two');
    });
  });
}

createOnlyContract('FolderStorage', async () => {
  const root = await mkdtemp(join(tmpdir(), 'strongbox-create-only-'));
  return {
    storage: new FolderStorage(root),
    leftovers: async () => (await readdir(join(root, '.tmp')).catch(() => [])).length,
    teardown: () => rm(root, { recursive: true, force: true }),
  };
});

createOnlyContract('S3Storage on s3rver (harness enforces If-None-Match)', async () => {
  const server: S3TestServer = await startS3Server('strongbox-create-only');
  const storage = new S3Storage(server.client, server.bucket, { prefix: 'p', partSizeBytes: 5 * MIB });
  return {
    storage,
    leftovers: async () => {
      let count = 0;
      for await (const write of storage.listUnfinished('')) if (write) count += 1;
      return count;
    },
    teardown: () => server.stop(),
  };
});

describe('the harness rule itself (s3-conditional.ts)', () => {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3Server('strongbox-harness-rule');
  });
  afterAll(async () => server?.stop());

  it('answers 412 to a second If-None-Match PUT and counts both decisions', async () => {
    const put = (body: string) => server.client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'k', Body: body, IfNoneMatch: '*' }));
    await put('one');
    const second = put('two');
    await expect(second).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    expect(server.conditional).toEqual({ created: 1, refused: 1 });
  });

  it('refuses a presigned request that does not send a header it signed', async () => {
    const url = `${server.endpoint}/${server.bucket}/signed?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host%3Bif-none-match&X-Amz-Signature=00`;
    const response = await fetch(url, { method: 'PUT', body: 'x' });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('SignatureDoesNotMatch');
  });
});
