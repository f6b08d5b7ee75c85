import { gzipSync } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/archive-endpoint/http-server';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import type { Storage } from '../../shared/ports/storage';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import type { Alert } from '../../shared/ports';
import { declareWalFile, prepareWalPush, type WalArchiveDeps } from '../../shared/usecases/wal-archive';
import { walFileRef } from '../../shared/domain/wal/file-ref';
import { WalPushBusyError } from '../../shared/usecases/wal-archive/errors';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog, type CapturedLog } from '../support/stack';
import { declareSegment, declareSmallFile, fakeSegment, sha256, type DeclaredFile } from '../support/wal-files';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';

/**
 * Issue 17 point 3: archived history that storage enforces. Two endpoint instances (each
 * its own deps, so its own in-process lock) over one repository, pushed at the same moment
 * with the same and with different bytes, in bytes mode over the repository folder and in
 * presign mode over s3rver (whose harness enforces If-None-Match and signed headers as S3
 * does). A host's retry loop is played here as PostgreSQL's archiver plays it: any failure
 * but WAL_CONFLICT is tried again.
 */

const TOKEN = 'no-overwrite-token-51c2';

interface World {
  storage: Storage;
  endpoints: [ArchiveEndpointServer, ArchiveEndpointServer];
  alerts: Alert[];
  log: CapturedLog;
  stop(): Promise<void>;
}

type Outcome = { ok: true; status: 'stored' | 'exists'; sha256: string } | { ok: false; code: string };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(base: string, method: string, path: string, json?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

/** One push as the WAL host makes it: prepare, the bytes (to the endpoint or presigned to S3), complete when asked. */
async function pushOnce(endpoint: ArchiveEndpointServer, database: string, name: string, file: DeclaredFile): Promise<Outcome> {
  const prepare = await api(endpoint.url, 'POST', `/v1/wal/${database}/${name}`, file.declaration);
  if (prepare.json?.error) return { ok: false, code: prepare.json.error.code };
  if (prepare.json.status === 'exists') return { ok: true, status: 'exists', sha256: prepare.json.record.sha256 };
  const target = new URL(prepare.json.url, endpoint.url);
  const headers: Record<string, string> = { ...prepare.json.headers };
  if (target.origin === new URL(endpoint.url).origin) headers.authorization = `Bearer ${TOKEN}`;
  const put = await fetch(target, { method: prepare.json.method, headers, body: file.stored });
  const putText = await put.text();
  if (!prepare.json.complete) {
    const json = JSON.parse(putText);
    return json.error ? { ok: false, code: json.error.code } : { ok: true, status: json.status, sha256: json.record.sha256 };
  }
  if (put.status !== 200) return { ok: false, code: `HTTP_${put.status}` };
  const complete = await api(endpoint.url, 'POST', `/v1/wal/${database}/${name}/complete`, file.declaration);
  return complete.json.error ? { ok: false, code: complete.json.error.code } : { ok: true, status: complete.json.status, sha256: complete.json.record.sha256 };
}

/** PostgreSQL's archiver: tries again on any failure but a conflict; gives up after many tries (the test then fails). */
async function archive(endpoint: ArchiveEndpointServer, database: string, name: string, file: DeclaredFile): Promise<Outcome & { tries: number }> {
  for (let tries = 1; ; tries += 1) {
    const outcome = await pushOnce(endpoint, database, name, file);
    if (outcome.ok || outcome.code === 'WAL_CONFLICT' || tries === 200) return { ...outcome, tries };
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function record(storage: Storage, database: string, name: string): Promise<{ sha256: string; objectKey: string; storedSha256: string }> {
  return JSON.parse((await storage.getBytes(walRecordKey(database, name))).toString());
}

function describeMode(mode: 'bytes' | 'presign', makeWorld: () => Promise<World>): void {
  describe(`two endpoint instances over one repository (${mode} mode)`, () => {
    let world: World;
    beforeAll(async () => {
      world = await makeWorld();
    });
    afterAll(async () => world?.stop());

    it('the same segment pushed eight times at once through both: recorded once, every push succeeds, no alert', async () => {
      // Prepare
      const name = '000000010000000000000001';
      const file = declareSegment(fakeSegment({ segno: 1n }), 'gzip');
      // Act
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => archive(world.endpoints[i % 2]!, 'same', name, file)));
      // Assess
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(outcomes.filter((o) => o.ok && o.status === 'stored')).toHaveLength(1);
      const stored = await record(world.storage, 'same', name);
      expect(stored.sha256).toBe(file.declaration.sha256);
      expect(sha256(await world.storage.getBytes(walObjectKey('same', name, 'gzip')))).toBe(file.declaration.storedSha256);
      expect(world.alerts).toEqual([]);
    });

    it.each([
      ['a segment', '000000010000000000000002', () => declareSegment(fakeSegment({ segno: 2n }), 'zstd'), () => declareSegment(fakeSegment({ segno: 2n }), 'zstd')],
      ['a .history file', '00000002.history', () => declareSmallFile('1\t0/3000000\tno recovery target specified\n'), () => declareSmallFile('1\t0/5000000\tbefore the other promotion\n')],
      ['a .backup file', '000000010000000000000003.00000028.backup', () => declareSmallFile('START WAL LOCATION: 0/3000028\nLABEL: one\n'), () => declareSmallFile('START WAL LOCATION: 0/3000028\nLABEL: other\n')],
    ])('%s pushed with other bytes through each instance at once: one is archived for good, the other gets WAL_CONFLICT and an alert', async (_kind, name, makeOurs, makeTheirs) => {
      // Prepare
      const database = `diff${name.length}`;
      const [ours, theirs] = [makeOurs(), makeTheirs()];
      // Act
      const outcomes = await Promise.all([0, 1, 2, 3].map((i) => archive(world.endpoints[i % 2]!, database, name, i % 2 === 0 ? ours : theirs)));
      // Assess: exactly one file won, every push of it succeeded, every push of the other conflicts.
      const stored = await record(world.storage, database, name);
      const winner = stored.sha256 === ours.declaration.sha256 ? ours : theirs;
      expect([ours.declaration.sha256, theirs.declaration.sha256]).toContain(stored.sha256);
      for (const [i, outcome] of outcomes.entries()) {
        const pushed = i % 2 === 0 ? ours : theirs;
        expect(outcome).toMatchObject(pushed === winner ? { ok: true } : { ok: false, code: 'WAL_CONFLICT' });
      }
      expect(sha256(await world.storage.getBytes(stored.objectKey))).toBe(winner.declaration.storedSha256);
      expect(world.alerts.filter((a) => a.type === 'WAL_CONFLICT' && a.database === database).length).toBeGreaterThanOrEqual(2);
      // And later pushes change nothing: the archived copy stays.
      const loser = winner === ours ? theirs : ours;
      expect(await archive(world.endpoints[0], database, name, loser)).toMatchObject({ ok: false, code: 'WAL_CONFLICT' });
      expect(await record(world.storage, database, name)).toEqual(stored);
    });

    it('the same segment in two compressions at once: one record, and the unrecorded duplicate is removed', async () => {
      // Prepare
      const name = '000000010000000000000004';
      const raw = fakeSegment({ segno: 4n });
      const [zstd, gzip] = [declareSegment(raw, 'zstd'), declareSegment(raw, 'gzip')];
      // Act
      const outcomes = await Promise.all([archive(world.endpoints[0], 'codecs', name, zstd), archive(world.endpoints[1], 'codecs', name, gzip)]);
      // Assess
      expect(outcomes.every((o) => o.ok)).toBe(true);
      const stored = await record(world.storage, 'codecs', name);
      const other = stored.objectKey === walObjectKey('codecs', name, 'zstd') ? walObjectKey('codecs', name, 'gzip') : walObjectKey('codecs', name, 'zstd');
      expect(await world.storage.head(stored.objectKey)).toBeDefined();
      expect(await world.storage.head(other)).toBeUndefined();
    });

    it('an upload whose push died before its record is recorded by the next push of the same file, even in another encoding', async () => {
      // Prepare: the object is there (gzip level 9, not the host's level 1), its record never came.
      const name = '000000010000000000000005';
      const raw = fakeSegment({ segno: 5n });
      const file = declareSegment(raw, 'gzip');
      const leftover = gzipSync(raw, { level: 9 });
      expect(sha256(leftover)).not.toBe(file.declaration.storedSha256);
      await world.storage.putBytes(walObjectKey('orphan', name, 'gzip'), leftover);
      // Act
      const outcome = await archive(world.endpoints[1], 'orphan', name, file);
      // Assess
      expect(outcome).toMatchObject({ ok: true, tries: 1 });
      expect(await record(world.storage, 'orphan', name)).toMatchObject({ sha256: file.declaration.sha256, storedSha256: sha256(leftover) });
    });

    it('an unrecorded upload of other bytes is never written over: WAL_PUSH_BUSY while young', async () => {
      // Prepare
      const name = '000000010000000000000006';
      const other = declareSegment(fakeSegment({ segno: 6n }));
      await world.storage.putBytes(walObjectKey('busy', name, 'none'), other.stored);
      const file = declareSegment(fakeSegment({ segno: 6n }));
      const deps: WalArchiveDeps = { storage: world.storage, alerts: { publish: async () => undefined }, log: captureLog(), clock: () => new Date(), codec: walCodec };
      // Act
      const outcome = await pushOnce(world.endpoints[0], 'busy', name, file);
      const direct = prepareWalPush(deps, declareWalFile(walFileRef('busy', name), file.declaration));
      // Assess
      expect(outcome).toMatchObject({ ok: false, code: 'WAL_PUSH_BUSY' });
      await expect(direct).rejects.toBeInstanceOf(WalPushBusyError);
      await expect(direct).rejects.toMatchObject({ code: 'WAL_PUSH_BUSY' });
      expect(sha256(await world.storage.getBytes(walObjectKey('busy', name, 'none')))).toBe(other.declaration.storedSha256);
      expect(await world.storage.head(walRecordKey('busy', name))).toBeUndefined();
    });

    it('an unrecorded upload of other bytes older than the grace is an abandoned one: removed, and the push archives its own', async () => {
      // Prepare
      const name = '000000010000000000000007';
      const other = declareSegment(fakeSegment({ segno: 7n }));
      await world.storage.putBytes(walObjectKey('stale', name, 'none'), other.stored);
      const file = declareSegment(fakeSegment({ segno: 7n }));
      const later = () => new Date(Date.now() + 21 * 60 * 1000);
      const deps: WalArchiveDeps = { storage: world.storage, alerts: { publish: async () => undefined }, log: captureLog(), clock: later, codec: walCodec };
      // Act
      const plan = await prepareWalPush(deps, declareWalFile(walFileRef('stale', name), file.declaration));
      // Assess
      expect(plan.status).toBe('upload');
      expect(await world.storage.head(walObjectKey('stale', name, 'none'))).toBeUndefined();
      expect(await archive(world.endpoints[1], 'stale', name, file)).toMatchObject({ ok: true, status: 'stored' });
    });
  });
}

async function endpointsOver(storage: Storage, mode: 'bytes' | 'presign', presigner?: S3Presigner) {
  const alerts: Alert[] = [];
  const log = captureLog();
  const deps = (): WalArchiveDeps => ({ storage, alerts: { publish: async (alert) => void alerts.push(alert) }, log, clock: () => new Date(), codec: walCodec, ...(presigner ? { presigner } : {}) });
  const start = () => startArchiveEndpoint({ host: '127.0.0.1', port: 0, token: TOKEN, deps: deps(), mode, maxSegmentBytes: 2 * 1024 * 1024 });
  const endpoints: [ArchiveEndpointServer, ArchiveEndpointServer] = [await start(), await start()];
  return { alerts, log, endpoints };
}

describeMode('bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-no-overwrite-'));
  const storage = new FolderStorage(dir);
  const { alerts, log, endpoints } = await endpointsOver(storage, 'bytes');
  return {
    storage, endpoints, alerts, log,
    async stop() {
      await Promise.all(endpoints.map((endpoint) => endpoint.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeMode('presign', async () => {
  const s3: S3TestServer = await startS3Server('strongbox-no-overwrite');
  const storage = new S3Storage(s3.client, s3.bucket, { prefix: 'repo' });
  const { alerts, log, endpoints } = await endpointsOver(storage, 'presign', new S3Presigner(s3.client, s3.bucket, { prefix: 'repo' }));
  return {
    storage, endpoints, alerts, log,
    async stop() {
      await Promise.all(endpoints.map((endpoint) => endpoint.stop()));
      await s3.stop();
    },
  };
});
