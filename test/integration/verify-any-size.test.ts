import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumHandler, type InvocationTime } from '../../functions/checksum';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import type { VerifyHandOver } from '../../shared/ports/verify';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { backupId, backupKeys } from '../../shared/domain/keys';
import { MANIFEST_FORMAT_VERSION, serializeManifest, type Manifest } from '../../shared/domain/manifest';
import { objectCreatedEvent } from '../../shared/domain/object-event';
import { localCatalog, LOCAL_TABLE } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import type { Alert } from '../../shared/ports';
import type { VerifyCursor } from '../../shared/ports/verify';
import { hashObject } from '../../shared/usecases/verify-object';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog } from '../support/stack';

/**
 * Issue 15 point 2: verification that finishes for any size. The checksum function's time
 * is played by a context whose remaining time runs out after a few ranges; each hand-over
 * is delivered as the next invocation's event, as Lambda would (functions/checksum.ts).
 * Objects are tens of MiB read in 1 MiB ranges over s3rver: many hops, same code paths as
 * terabytes in 16 MiB ranges.
 */

const MIB = 1024 * 1024;
let s3: S3TestServer;
let dynalite: DynaliteServer;
let storage: S3Storage;
let catalog: Catalog;
const alerts: Alert[] = [];

beforeAll(async () => {
  s3 = await startS3Server('strongbox-verify');
  storage = new S3Storage(s3.client, s3.bucket, { partSizeBytes: 5 * MIB });
  dynalite = await startDynalite({});
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
});

afterAll(async () => {
  await s3?.stop();
  await dynalite?.stop();
});

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** An UPLOADED logical backup whose dump is `dump` (declared as `declared`, by default its true hash). */
async function storeBackup(seed: string, dump: Buffer, declared = sha256(dump)): Promise<{ id: string; manifestKey: string; dumpKey: string }> {
  const at = new Date('2026-12-04T03:00:00.000Z');
  const id = backupId('logical', at, seed);
  const keys = backupKeys('logical', 'daily', 'app', id, 'zstd');
  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    compression: 'zstd',
    startedAt: at.toISOString(),
    finishedAt: new Date(at.getTime() + 60_000).toISOString(),
    source: { pgDatabase: 'app', serverVersion: '15.18', serverVersionNum: 150018, systemIdentifier: '7311234567890123456', walLsn: '0/3000000', databaseSizeBytes: dump.length },
    tools: { strongbox: 'test', pgDump: '15.18' },
    tables: [{ schema: 'public', name: 'orders', rows: 3 }],
    objects: { dump: { key: keys.dump, bytes: dump.length, sha256: declared } },
  };
  await storage.putStream(keys.dump, (await import('node:stream')).Readable.from([dump]));
  await storage.putBytes(keys.manifest, serializeManifest(manifest));
  return { id, manifestKey: keys.manifest, dumpKey: keys.dump };
}

/** A Lambda context whose time runs out after `calls` looks at the clock (fresh for each invocation). */
function invocationOf(calls: number): InvocationTime {
  let left = calls;
  return { getRemainingTimeInMillis: () => (left-- > 0 ? 14 * 60_000 : 30_000) };
}

/** Runs the checksum function on the manifest's event, then on every hand-over, as Lambda would. */
async function verifyHopByHop(manifestKey: string, callsPerInvocation: number, nativeBytesPerSecond = 1): Promise<{ hops: VerifyCursor[]; results: unknown[] }> {
  const handed: VerifyCursor[] = [];
  const handOver: VerifyHandOver = { continueVerification: async (cursor) => void handed.push(JSON.parse(JSON.stringify(cursor))) };
  const handler = checksumHandler({
    storage,
    catalog,
    alerts: { publish: async (alert) => void alerts.push(alert) },
    log: captureLog(),
    clock: () => new Date(),
    handOver,
    tuning: { rangeBytes: MIB, concurrency: 4, budget: { nativeBytesPerSecond } },
  });
  const results: unknown[] = [await handler(objectCreatedEvent({ bucket: storage.bucket, key: manifestKey, size: 1, time: new Date() }), invocationOf(callsPerInvocation))];
  for (let hop = 0; hop < handed.length; hop += 1) {
    if (hop > 500) throw new Error('the verification never ended');
    results.push(await handler({ strongboxVerify: handed[hop] }, invocationOf(callsPerInvocation)));
  }
  return { hops: handed, results };
}

describe('verification of any size: parallel ranged reads, hand-over before the deadline', () => {
  it('parallel ranged reads hash exactly what one stream hashes, for sizes that are not a multiple of the range', async () => {
    const data = randomBytes(7 * MIB + 12345);
    await storage.putBytes('ranges/odd', data);
    for (const options of [{ concurrency: 1 }, { concurrency: 3, rangeBytes: MIB }, { concurrency: 8, rangeBytes: 2 * MIB, resumable: true }]) {
      expect(await hashObject(storage, 'ranges/odd', data.length, options)).toEqual({ done: true, bytes: data.length, sha256: sha256(data) });
    }
  });

  it('a 24 MiB dump verified over many invocations, each handing its hash state to the next, ends VERIFIED', async () => {
    // Prepare
    const dump = randomBytes(24 * MIB + 777);
    const backup = await storeBackup('hopsok', dump);
    // Act: 3 looks at the clock per invocation → a few MiB per hop.
    const { hops, results } = await verifyHopByHop(backup.manifestKey, 3);
    // Assess
    expect(hops.length).toBeGreaterThanOrEqual(5);
    expect(hops.map((cursor) => cursor.hop)).toEqual(hops.map((_, i) => i + 1));
    const offsets = hops.map((cursor) => cursor.hash?.offset ?? 0);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets); // always forward
    expect(results.at(-1)).toMatchObject({ verified: [backup.id], failed: [] });
    expect(await catalog.get(backup.id)).toMatchObject({ state: 'VERIFIED' });
    expect(JSON.stringify(hops[0]).length).toBeLessThan(1024);
  });

  it('a byte changed deep in the object is found after the hand-overs: FAILED with CHECKSUM_MISMATCH and one alert', async () => {
    // Prepare
    const dump = randomBytes(20 * MIB);
    const backup = await storeBackup('hopbad', dump);
    const damaged = Buffer.from(dump);
    damaged[17 * MIB + 3] = damaged[17 * MIB + 3]! ^ 0x40;
    await storage.putBytes(backup.dumpKey, damaged);
    const before = alerts.length;
    // Act
    const { hops } = await verifyHopByHop(backup.manifestKey, 3);
    // Assess
    expect(hops.length).toBeGreaterThanOrEqual(4);
    expect(await catalog.get(backup.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
    expect(alerts.slice(before)).toEqual([expect.objectContaining({ type: 'CHECKSUM_MISMATCH', backupId: backup.id })]);
  });

  it('a fast hash overtaken by the deadline is not lost: the next invocation starts the object again with a resumable hash', async () => {
    // Prepare: the estimate says OpenSSL's hash fits (a huge expected speed), but the time runs out mid-object.
    const dump = randomBytes(12 * MIB);
    const backup = await storeBackup('native', dump);
    // Act
    const { hops } = await verifyHopByHop(backup.manifestKey, 4, 1e15);
    // Assess
    expect(hops[0]).toMatchObject({ object: 0, hop: 1 });
    expect(hops[0]!.hash).toBeUndefined();
    expect(hops[1]!.hash?.offset).toBeGreaterThan(0);
    expect(await catalog.get(backup.id)).toMatchObject({ state: 'VERIFIED' });
  });

  it('each hand-over keeps the watchdog off: the entry says when its verification last made progress', async () => {
    const backup = await storeBackup('alive', randomBytes(6 * MIB));
    const started = Date.now();
    await verifyHopByHop(backup.manifestKey, 2);
    const entry = await catalog.get(backup.id);
    expect(Date.parse(entry!.reverify!.at)).toBeGreaterThanOrEqual(started - 1000);
    expect(entry!.reverify!.attempts).toBe(0);
  });

  it('an event that only looks like a hand-over is reported as ignored, not taken up', async () => {
    const handler = checksumHandler({ storage, catalog, alerts: { publish: async () => undefined }, log: captureLog(), clock: () => new Date() });
    for (const event of [{ strongboxVerify: { manifestKey: 7, object: 0, hop: 1 } }, { strongboxVerify: { manifestKey: 'x', object: -1, hop: 1 } }, { strongboxVerify: null }]) {
      expect(await handler(event)).toMatchObject({ verified: [], failed: [], ignored: [expect.any(String)] });
    }
  });

  it('without a hand-over (local mode) nothing stops early, whatever the clock says', async () => {
    const backup = await storeBackup('local', randomBytes(4 * MIB));
    const handler = checksumHandler({ storage, catalog, alerts: { publish: async () => undefined }, log: captureLog(), clock: () => new Date(), tuning: { rangeBytes: MIB } });
    const result = await handler(objectCreatedEvent({ bucket: storage.bucket, key: backup.manifestKey, size: 1, time: new Date() }), invocationOf(0));
    expect(result).toEqual({ verified: [backup.id], failed: [], ignored: [] });
  });
});
