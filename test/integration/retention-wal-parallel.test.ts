/**
 * Retention's WAL deletion with several pages in flight (issue 16, point 3), on dynalite
 * and a repository folder: everything the mark names goes and nothing else; for every
 * segment its record `.json` goes before its bytes and both before its catalog items;
 * the catalog's range cuts of two pages never overlap (a cut is not safe against a
 * concurrent one) while their deletes do; and a failure part-way leaves the mark's work
 * for the next run, which finishes it with the ranges still true.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { Storage } from '../../shared/ports/storage';
import type { WalRetentionMark } from '../../shared/domain/retention';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { formatLsn, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { StorageError } from '../../shared/errors';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { silentLog } from '../../shared/ports';
import { applyWalMark } from '../../shared/usecases/retention/wal-apply';

const SEGMENTS = 1200;
const CUT = 900;
const KEEP: [number, number] = [300, 310];
const NOW = new Date('2026-06-15T12:00:00.000Z');
const at = (s: number) => new Date(NOW.getTime() - (SEGMENTS - s) * 1000).toISOString();

let dynalite: DynaliteServer;
let client: DynamoDBClient;
let root: string;
let table = 0;
let folder: Storage;
let walCatalog: DynamoWalCatalog;

function record(s: number): WalRecord {
  const name = segmentName(1, BigInt(s));
  return {
    format: WAL_RECORD_FORMAT,
    database: 'app',
    name,
    kind: 'segment',
    timeline: 1,
    segno: String(s),
    startLsn: formatLsn(segmentStartLsn(BigInt(s))),
    endLsn: formatLsn(segmentStartLsn(BigInt(s + 1))),
    objectKey: walObjectKey('app', name, 'zstd'),
    compression: 'zstd',
    size: 16 * 1024 * 1024,
    sha256: 'a'.repeat(64),
    storedSize: 10,
    storedSha256: 'b'.repeat(64),
    systemId: '7311234567890123456',
    archivedAt: at(s),
  };
}

const mark: WalRetentionMark = {
  at: NOW.toISOString(),
  rule: 'WAL_WINDOW',
  timelines: [{ timeline: 1, deleteBelow: segmentName(1, BigInt(CUT)) }],
  keep: [{ first: segmentName(1, BigInt(KEEP[0])).slice(8), last: segmentName(1, BigInt(KEEP[1])).slice(8), backupId: 'b-old' }],
};

/** What happened, in order: storage deletions by key, catalog deletions by name, and the most calls seen at once. */
interface Trace {
  storage: Map<string, number>;
  catalog: Map<string, number>;
  step: number;
  storageInFlight: number;
  storageMax: number;
  catalogInFlight: number;
  catalogMax: number;
}

function traced(trace: Trace, failOnCall?: number): { storage: Storage; walCatalog: WalCatalog } {
  let calls = 0;
  const storage = new Proxy(folder, {
    get(target, property) {
      if (property === 'delete') {
        return async (keys: readonly string[]) => {
          calls += 1;
          trace.storageInFlight += 1;
          trace.storageMax = Math.max(trace.storageMax, trace.storageInFlight);
          try {
            // Let the other pages start: a real DeleteObjects takes a round trip.
            await new Promise((done) => setImmediate(done));
            if (calls === failOnCall) throw new StorageError('DeleteObjects refused (injected)', 'try again');
            await target.delete(keys);
            for (const key of keys) trace.storage.set(key, trace.step++);
          } finally {
            trace.storageInFlight -= 1;
          }
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const catalogView = new Proxy(walCatalog, {
    get(target, property) {
      if (property === 'deleteWalRecords') {
        return async (database: string, names: readonly string[]) => {
          trace.catalogInFlight += 1;
          trace.catalogMax = Math.max(trace.catalogMax, trace.catalogInFlight);
          try {
            for (const name of names) {
              // Both objects are gone before the catalog forgets the segment.
              expect(trace.storage.has(walRecordKey('app', name)) && trace.storage.has(walObjectKey('app', name, 'zstd'))).toBe(true);
            }
            await target.deleteWalRecords(database, names);
            for (const name of names) trace.catalog.set(name, trace.step++);
          } finally {
            trace.catalogInFlight -= 1;
          }
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { storage, walCatalog: catalogView };
}

function newTrace(): Trace {
  return { storage: new Map(), catalog: new Map(), step: 0, storageInFlight: 0, storageMax: 0, catalogInFlight: 0, catalogMax: 0 };
}

const deleted = (s: number) => s < CUT && (s < KEEP[0] || s > KEEP[1]);

beforeAll(async () => {
  dynalite = await startDynalite({});
  client = makeDynamoClient({ endpoint: dynalite.endpoint });
  root = await mkdtemp(join(tmpdir(), 'strongbox-retention-parallel-'));
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await dynalite?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  table += 1;
  await ensureCatalogTable(client, `walpar${table}`);
  walCatalog = new DynamoWalCatalog(toDocumentClient(client), `walpar${table}`);
  folder = new FolderStorage(join(root, `repo${table}`));
  const records = Array.from({ length: SEGMENTS }, (_, s) => record(s));
  for (const one of records) {
    await folder.putBytes(one.objectKey, 'segment!!!');
    await folder.putBytes(walRecordKey('app', one.name), JSON.stringify(one));
  }
  await walCatalog.recordWals(records, NOW.toISOString());
}, 120_000);

async function remaining(): Promise<{ records: number[]; objects: number[]; ranges: Array<[number, number]> }> {
  const records = (await walCatalog.listSegments('app', 1)).map((one) => Number(one.segno));
  const objects: number[] = [];
  for (let s = 0; s < SEGMENTS; s += 1) if (await folder.head(walObjectKey('app', segmentName(1, BigInt(s)), 'zstd'))) objects.push(s);
  const ranges = (await walCatalog.listRanges('app', 1)).map((range): [number, number] => [Number(range.from), Number(range.to)]);
  return { records, objects, ranges };
}

const expectedLeft = Array.from({ length: SEGMENTS }, (_, s) => s).filter((s) => !deleted(s));

describe('WAL deletion with pages in flight', () => {
  it('deletes exactly what the mark names, records before bytes before catalog, one range cut at a time while the deletes overlap', async () => {
    const trace = newTrace();
    // The adapter's range cuts (private): never two at once.
    const ranges = (walCatalog as unknown as { ranges: { subtract: (database: string, names: readonly string[]) => Promise<void> } }).ranges;
    const subtract = ranges.subtract.bind(ranges);
    const cuts = { inFlight: 0, max: 0 };
    ranges.subtract = async (database, names) => {
      cuts.inFlight += 1;
      cuts.max = Math.max(cuts.max, cuts.inFlight);
      try {
        await new Promise((done) => setImmediate(done));
        await subtract(database, names);
      } finally {
        cuts.inFlight -= 1;
      }
    };
    const outcome = await applyWalMark({ ...traced(trace), log: silentLog, clock: () => NOW }, 'app', mark, 100, 4);

    expect(outcome).toEqual({ segments: CUT - (KEEP[1] - KEEP[0] + 1), bytes: 10 * (CUT - (KEEP[1] - KEEP[0] + 1)), locked: 0 });
    for (let s = 0; s < CUT; s += 1) {
      if (!deleted(s)) continue;
      const name = segmentName(1, BigInt(s));
      expect(trace.storage.get(walRecordKey('app', name))!).toBeLessThan(trace.storage.get(walObjectKey('app', name, 'zstd'))!);
      expect(trace.storage.get(walObjectKey('app', name, 'zstd'))!).toBeLessThan(trace.catalog.get(name)!);
    }
    expect(trace.storageMax).toBeGreaterThan(1);
    expect(cuts.max).toBe(1);
    const left = await remaining();
    expect(left.records).toEqual(expectedLeft);
    expect(left.objects).toEqual(expectedLeft);
    expect(left.ranges).toEqual([KEEP, [CUT, SEGMENTS - 1]]);
  }, 120_000);

  it('a storage failure part-way lets the pages in flight settle, throws, and the next run finishes with true ranges', async () => {
    const trace = newTrace();
    const failing = traced(trace, 5);
    await expect(applyWalMark({ ...failing, log: silentLog, clock: () => NOW }, 'app', mark, 100, 4)).rejects.toThrow(/injected/);
    expect(trace.storageInFlight).toBe(0);
    expect(trace.catalogInFlight).toBe(0);
    // Every range still claims only recorded segments.
    const half = await remaining();
    const recorded = new Set(half.records);
    for (const [from, to] of half.ranges) for (let s = from; s <= to; s += 1) expect(recorded.has(s)).toBe(true);
    expect(half.records.length).toBeGreaterThan(expectedLeft.length);

    await applyWalMark({ ...traced(newTrace()), log: silentLog, clock: () => NOW }, 'app', mark, 100, 4);
    const left = await remaining();
    expect(left.records).toEqual(expectedLeft);
    expect(left.objects).toEqual(expectedLeft);
    expect(left.ranges).toEqual([KEEP, [CUT, SEGMENTS - 1]]);
  }, 120_000);
});
