import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InputError, ObjectNotFoundError, StorageError } from '../../../shared/errors';
import { hasUnfinishedWrites, isLocked, type ObjectCreatedListener, type ObjectInfo, type Storage, type UnfinishedWrite, type UnfinishedWrites } from '../../../shared/ports/storage';

/** What a driver's test file hands to {@link storageContract}. */
export interface ContractSubject {
  storage: Storage;
  teardown(): Promise<void>;
  /** Multipart uploads started and neither completed nor aborted (S3 only). */
  listIncompleteUploads?(): Promise<number>;
}

type CreatedEvent = Parameters<ObjectCreatedListener>[0];

const MIB = 1024 * 1024;
const CHUNK = 256 * 1024;

/**
 * The one behavioural suite every Storage driver must pass. Each test works under its own
 * key prefix so that tests stay independent within one storage.
 */
export function storageContract(name: string, setup: () => Promise<ContractSubject>): void {
  describe(`${name}: storage contract`, () => {
    let subject: ContractSubject;
    let storage: Storage;
    const events: CreatedEvent[] = [];
    const eventsUnder = (prefix: string): CreatedEvent[] => events.filter((e) => e.key.startsWith(prefix));

    beforeAll(async () => {
      subject = await setup();
      storage = subject.storage;
      storage.onObjectCreated((info) => void events.push(info));
      storage.onObjectCreated((info) => {
        if (info.key.startsWith('listener-throws/')) throw new Error('listener exploded');
      });
    });
    afterAll(async () => {
      await subject?.teardown();
    });

    async function expectNothingAt(key: string): Promise<void> {
      expect(await storage.head(key)).toBeUndefined();
      await expect(storage.getBytes(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await keysOf(storage.list(key))).toEqual([]);
      if (subject.listIncompleteUploads) expect(await subject.listIncompleteUploads()).toBe(0);
    }

    it('round-trips small objects, and WriteResult measures what was stored', async () => {
      // Prepare
      const data = randomBytes(1000);
      // Act
      const written = await storage.putBytes('rt/bytes.bin', data);
      const text = await storage.putBytes('rt/text.txt', 'héllo\n');
      const empty = await storage.putBytes('rt/empty', new Uint8Array(0));
      // Assess
      expect(written).toEqual({ key: 'rt/bytes.bin', bytes: 1000, sha256: sha256(data) });
      expect(text).toEqual({ key: 'rt/text.txt', bytes: 7, sha256: sha256(Buffer.from('héllo\n')) });
      expect(empty).toEqual({ key: 'rt/empty', bytes: 0, sha256: sha256(Buffer.alloc(0)) });
      expect(await storage.getBytes('rt/bytes.bin')).toEqual(data);
      expect(await readAll(await storage.get('rt/bytes.bin'))).toEqual(data);
      expect((await storage.getBytes('rt/text.txt')).toString('utf8')).toBe('héllo\n');
      expect((await storage.getBytes('rt/empty')).length).toBe(0);
      const head = await storage.head('rt/bytes.bin');
      expect(head?.size).toBe(1000);
      expect(head?.lastModified).toBeInstanceOf(Date);
    });

    it('round-trips a 20 MiB stream written in several parts', async () => {
      // Prepare
      const data = randomBytes(20 * MIB);
      // Act
      const written = await storage.putStream('rt/big.bin', streamOf(data), { contentType: 'application/octet-stream' });
      const readBack = await readAll(await storage.get('rt/big.bin'));
      // Assess
      expect(written).toEqual({ key: 'rt/big.bin', bytes: data.length, sha256: sha256(data) });
      expect(readBack.length).toBe(data.length);
      expect(sha256(readBack)).toBe(sha256(data));
      expect((await storage.head('rt/big.bin'))?.size).toBe(data.length);
    });

    it('reports the SHA-256 a caller gives for bytes it has just hashed, and stores the bytes as they are', async () => {
      const data = randomBytes(1000);
      const written = await storage.putBytes('rt/known.bin', data, { sha256: sha256(data) });
      expect(written).toEqual({ key: 'rt/known.bin', bytes: 1000, sha256: sha256(data) });
      expect(await storage.getBytes('rt/known.bin')).toEqual(data);
    });

    it('replaces an object whole when a key is written again', async () => {
      await storage.putBytes('overwrite/k', Buffer.alloc(5000, 'a'));
      await storage.putStream('overwrite/k', streamOf(Buffer.alloc(10, 'b')));
      expect((await storage.getBytes('overwrite/k')).toString()).toBe('bbbbbbbbbb');
      expect((await storage.head('overwrite/k'))?.size).toBe(10);
    });

    it('rejects reads of a missing key with ObjectNotFoundError, and head answers undefined', async () => {
      await expect(storage.get('missing/none')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND', key: 'missing/none' });
      await expect(storage.getBytes('missing/none')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND', key: 'missing/none' });
      await expect(storage.getBytes('missing/none')).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await storage.head('missing/none')).toBeUndefined();
    });

    it('head of an object without Object Lock retention reports no lock, and it can be deleted', async () => {
      // Prepare
      await storage.putBytes('lock/free', 'bytes');
      // Act
      const info = await storage.head('lock/free');
      // Assess
      expect(info).toMatchObject({ key: 'lock/free', size: 5 });
      expect(info?.retainUntil).toBeUndefined();
      expect(info?.legalHold).toBeUndefined();
      expect(isLocked(info, new Date())).toBe(false);
      await storage.delete(['lock/free']);
      expect(await storage.head('lock/free')).toBeUndefined();
    });

    it('lists every object under a prefix in key order, across pages', async () => {
      // Prepare: 30 keys (several list pages where the driver pages), written out of order, plus neighbours
      const keys = Array.from({ length: 30 }, (_, i) => `list/${String.fromCharCode(97 + (i % 3))}/${String(i).padStart(2, '0')}`);
      await Promise.all([...keys].reverse().map((key, i) => storage.putBytes(key, Buffer.alloc(i))));
      await storage.putBytes('listing-neighbour', 'x');
      await storage.putBytes('lis', 'x');
      // Act
      const all = await collect(storage.list('list/'));
      const partial = await keysOf(storage.list('list/b'));
      const none = await keysOf(storage.list('list/zzz/'));
      // Assess
      expect(all.map((o) => o.key)).toEqual([...keys].sort());
      const sizes = new Map([...keys].reverse().map((key, i) => [key, i]));
      for (const object of all) expect(object.size).toBe(sizes.get(object.key));
      expect(partial).toEqual(keys.filter((k) => k.startsWith('list/b')).sort());
      expect(none).toEqual([]);
      expect(await keysOf(storage.list('lis'))).toEqual(['lis', ...[...keys].sort(), 'listing-neighbour']);
    });

    it('deletes keys, missing ones included, and deleting again succeeds', async () => {
      const keys = ['del/1', 'del/2', 'del/3', 'del/4', 'del/5'];
      await Promise.all(keys.map((key) => storage.putBytes(key, key)));
      await storage.putBytes('del-keep', 'stays');
      await storage.delete([...keys, 'del/never-existed']);
      await storage.delete(keys);
      await storage.delete([]);
      expect(await keysOf(storage.list('del'))).toEqual(['del-keep']);
      for (const key of keys) expect(await storage.head(key)).toBeUndefined();
    });

    it('a body that fails mid-way rejects the write and leaves nothing at the key, nor a partial upload', async () => {
      // Prepare
      const boom = new Error('body exploded');
      await storage.putBytes('fail/previous', 'old');
      // Act
      const outcomes = await Promise.allSettled([
        storage.putStream('fail/new', streamOf(randomBytes(12 * MIB), { failWith: boom })),
        storage.putStream('fail/previous', streamOf(randomBytes(12 * MIB), { failWith: boom })),
      ]);
      // Assess: the contract allows the body's own error or a StorageError
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason: unknown = outcome.status === 'rejected' ? outcome.reason : undefined;
        expect(reason === boom || reason instanceof StorageError).toBe(true);
      }
      await expectNothingAt('fail/new');
      expect((await storage.getBytes('fail/previous')).toString()).toBe('old');
      expect(eventsUnder('fail/').map((e) => e.key)).toEqual(['fail/previous']);
    });

    it('aborting the signal mid-stream rejects the write and leaves nothing at the key', async () => {
      // Prepare: an endless body; only the abort can end this write
      const controller = new AbortController();
      const body = endlessStream(12 * MIB, () => controller.abort());
      // Act
      const write = storage.putStream('abort/mid', body, { signal: controller.signal });
      // Assess
      await expect(write).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
      await expectNothingAt('abort/mid');
      expect(eventsUnder('abort/')).toEqual([]);
    });

    it('lists an unfinished write under its key until it is discarded; its writer then fails and nothing is stored', async () => {
      // Prepare: a write in flight, past one part (S3 starts its multipart upload then)
      expect(hasUnfinishedWrites(storage)).toBe(true);
      const sweeper = storage as Storage & UnfinishedWrites;
      const body = new PassThrough();
      const write = storage.putStream('unfinished/backup/dump', body);
      const failed = write.then(() => undefined, (error: unknown) => error);
      body.write(randomBytes(6 * MIB));
      const listed = await until(async () => (await unfinishedUnder(sweeper, 'unfinished/')).find((w) => w.key === 'unfinished/backup/dump'));
      // Act
      const elsewhere = await unfinishedUnder(sweeper, 'other/');
      await sweeper.discardUnfinished(listed);
      await sweeper.discardUnfinished(listed); // already gone: fine
      body.end(randomBytes(1024));
      // Assess
      expect(elsewhere).toEqual([]);
      expect(listed.startedAt ?? listed.lastWriteAt).toBeInstanceOf(Date);
      expect(await failed).toBeInstanceOf(StorageError);
      expect(await unfinishedUnder(sweeper, 'unfinished/')).toEqual([]);
      await expectNothingAt('unfinished/backup/dump');
    });

    it('a signal aborted before the write starts stores nothing', async () => {
      const signal = AbortSignal.abort();
      await expect(storage.putBytes('abort/early-bytes', 'x', { signal })).rejects.toBeInstanceOf(StorageError);
      await expect(storage.putStream('abort/early-stream', streamOf(Buffer.from('x')), { signal })).rejects.toBeInstanceOf(StorageError);
      await expectNothingAt('abort/early-bytes');
      await expectNothingAt('abort/early-stream');
    });

    it.each(['../x', '/abs', 'a//b', 'a\\b', 'a/../b', 'a/./b', 'trailing/', '', 'nul\0byte'])('refuses the invalid key %j with InputError', async (key) => {
      const refused = { code: 'INPUT_INVALID' };
      await expect(storage.putBytes(key, 'x')).rejects.toMatchObject(refused);
      await expect(storage.putStream(key, streamOf(Buffer.from('x')))).rejects.toMatchObject(refused);
      await expect(storage.getBytes(key)).rejects.toMatchObject(refused);
      await expect(storage.get(key)).rejects.toMatchObject(refused);
      await expect(storage.head(key)).rejects.toMatchObject(refused);
      await expect(storage.delete(['ok', key])).rejects.toBeInstanceOf(InputError);
    });

    it('refuses a listing prefix that could escape, with InputError', async () => {
      await expect(collect(storage.list('../'))).rejects.toBeInstanceOf(InputError);
      await expect(collect(storage.list('/abs'))).rejects.toBeInstanceOf(InputError);
    });

    it('calls onObjectCreated once per completed write with what was stored, never for a failed one', async () => {
      await storage.putBytes('events/a', 'abc');
      await storage.putStream('events/b', streamOf(Buffer.alloc(2 * MIB, 7)));
      await expect(storage.putStream('events/c', streamOf(Buffer.alloc(MIB), { failWith: new Error('no') }))).rejects.toBeDefined();
      const seen = eventsUnder('events/');
      expect(seen.map((e) => [e.key, e.size, e.bucket])).toEqual([
        ['events/a', 3, storage.bucket],
        ['events/b', 2 * MIB, storage.bucket],
      ]);
      for (const event of seen) expect(event.lastModified).toBeInstanceOf(Date);
    });

    it('a listener that throws does not fail the write, and the failure is logged', async () => {
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        const written = await storage.putBytes('listener-throws/x', 'kept');
        expect(written.bytes).toBe(4);
        expect((await storage.getBytes('listener-throws/x')).toString()).toBe('kept');
        const lines = stderr.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.includes('listener-throws/x'));
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'ERROR', key: 'listener-throws/x', error: 'listener exploded' });
      } finally {
        stderr.mockRestore();
      }
      expect(eventsUnder('listener-throws/')).toHaveLength(1);
    });
  });
}

/** Lower-case hex SHA-256, computed independently of the drivers' HashingStream. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `data` as a stream of 256 KiB chunks; with `failWith`, errors after about half of it. */
export function streamOf(data: Buffer, options: { failWith?: Error } = {}): Readable {
  const failAt = options.failWith ? Math.floor(data.length / 2) : Infinity;
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < data.length; offset += CHUNK) {
        if (offset >= failAt) throw options.failWith;
        yield data.subarray(offset, offset + CHUNK);
        await nextTurn();
      }
    })(),
  );
}

/** Random data forever; calls `onThreshold` once `threshold` bytes were read. */
function endlessStream(threshold: number, onThreshold: () => void): Readable {
  return Readable.from(
    (async function* () {
      let sent = 0;
      for (;;) {
        yield randomBytes(CHUNK);
        sent += CHUNK;
        if (sent === threshold) onThreshold();
        await nextTurn();
      }
    })(),
  );
}

async function unfinishedUnder(storage: UnfinishedWrites, prefix: string): Promise<UnfinishedWrite[]> {
  const out: UnfinishedWrite[] = [];
  for await (const write of storage.listUnfinished(prefix)) out.push(write);
  return out;
}

/** Polls `probe` until it returns a value (a write in flight shows up in a listing as soon as its driver starts it). */
async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for an unfinished write to show up');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect(objects: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const object of objects) out.push(object);
  return out;
}

async function keysOf(objects: AsyncIterable<ObjectInfo>): Promise<string[]> {
  return (await collect(objects)).map((o) => o.key);
}
