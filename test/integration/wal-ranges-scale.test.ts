/**
 * Scale simulation of issue 16, point 1: a catalog of 200,000 WAL segments (a busy
 * database's 5.5 hours at 10 segments/s) with a few gaps and two timelines, in dynalite
 * (run as its own process, so that this process's memory is only Strongbox's). The gap
 * check, a PITR plan to a time inside the window and `status` must read a number of
 * catalog items that depends on the gaps and timelines, not on the segments, and hold
 * little memory. Counts of requests and items are asserted, never wall-clock time.
 *
 * Storage is a stand-in that counts HEADs (200,000 record objects on disk would test the
 * disk, not the plan); every other part is the real adapter on a real DynamoDB-compatible
 * server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry } from '../../shared/domain/backup';
import { formatHistory } from '../../shared/domain/wal/history';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { formatLsn, historyName, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { rangesOfSegments } from '../../shared/domain/wal/ranges';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { ensureCatalogTable } from '../../shared/local/dynalite-server';
import { planRecovery } from '../../shared/usecases/pitr';
import { readStatus } from '../../shared/usecases/status';
import { findArchiveGap } from '../../shared/usecases/wal-gap';

const DB = 'busy';
const TABLE = 'scale';
const SEGMENTS = 200_000;
/** Timeline 2 begins inside segment 120,000 (a promotion); timeline 1 holds 0..119,999. */
const SWITCH_SEGNO = 120_000;
/** Missing segments: two gaps on timeline 1, one on timeline 2. */
const HOLES: Array<[number, number]> = [
  [50_000, 50_009],
  [90_000, 90_000],
  [190_000, 190_002],
];
const T0 = Date.UTC(2026, 11, 1);
const at = (segno: number) => new Date(T0 + segno * 100).toISOString();
const timelineOf = (segno: number) => (segno < SWITCH_SEGNO ? 1 : 2);
const missing = (segno: number) => HOLES.some(([from, to]) => segno >= from && segno <= to);

let dynalite: ChildProcess;
let client: DynamoDBClient;
let walCatalog: DynamoWalCatalog;
let catalog: DynamoCatalog;
const counts = { requests: 0, items: 0, heads: 0 };
const gc = (() => {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
})();

const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const HISTORY = formatHistory([{ parentTimeline: 1, switchLsn: segmentStartLsn(BigInt(SWITCH_SEGNO)) + 0x100n, reason: 'promoted' }]);

/** Storage as far as planning and status use it: record objects exist for every archived segment; HEADs are counted. */
const storage = {
  location: 'memory://scale',
  bucket: 'scale',
  head: async (key: string) => {
    counts.heads += 1;
    return { key, size: 100, lastModified: new Date(T0) };
  },
  getBytes: async (key: string) => {
    if (key === walObjectKey(DB, historyName(2), 'none')) return Buffer.from(HISTORY);
    throw new Error(`unexpected read of ${key}`);
  },
} as unknown as Storage;

function segmentItem(segno: number): Record<string, unknown> {
  const timeline = timelineOf(segno);
  const name = segmentName(timeline, BigInt(segno));
  return { pk: `WAL#${DB}#0000000${timeline}`, sk: name, database: DB, name, kind: 'segment', timeline, size: 16 * 1024 * 1024, archivedAt: at(segno), indexedAt: at(segno), objectKey: walObjectKey(DB, name, 'zstd'), compression: 'zstd', sha256: 'a'.repeat(64) };
}

function base(id: string, segno: number): BackupEntry {
  const timeline = timelineOf(segno);
  return {
    id,
    database: DB,
    kind: 'base',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: `base/daily/${DB}/${id}/dump.zst`,
    manifestKey: `base/daily/${DB}/${id}/manifest.json`,
    compression: 'zstd',
    startedAt: at(segno - 1),
    finishedAt: at(segno + 1),
    heartbeatAt: at(segno + 1),
    base: {
      startLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x28n),
      stopLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x1000n),
      timeline,
      stopTimeline: timeline,
      systemId: '7311234567890123456',
      pgVersion: 15,
      walSegments: { first: segmentName(timeline, BigInt(segno)), last: segmentName(timeline, BigInt(segno)) },
      label: '',
      walIncluded: true,
    },
  } as BackupEntry;
}

async function startDynaliteProcess(): Promise<string> {
  const cli = createRequire(import.meta.url).resolve('dynalite/cli.js');
  dynalite = spawn(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', '--createTableMs', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    dynalite.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
    dynalite.stdout!.on('data', (chunk: Buffer) => {
      const port = /:(\d+)\s*$/m.exec(chunk.toString())?.[1];
      if (port) resolve(`http://127.0.0.1:${port}`);
    });
  });
}

/** Runs `operation` with the counters reset; measures the heap it holds at its peak (sampled) and after. */
async function measured<T>(operation: () => Promise<T>): Promise<{ result: T; requests: number; items: number; heads: number; peakHeapMiB: number }> {
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 1);
  Object.assign(counts, { requests: 0, items: 0, heads: 0 });
  try {
    const result = await operation();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    return { result, requests: counts.requests, items: counts.items, heads: counts.heads, peakHeapMiB: (peak - before) / 1024 / 1024 };
  } finally {
    clearInterval(sampler);
  }
}

const report: Record<string, unknown> = {};

beforeAll(async () => {
  const endpoint = await startDynaliteProcess();
  client = makeDynamoClient({ endpoint });
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      counts.requests += 1;
      const output = out.output as { Items?: unknown[]; Item?: unknown; Count?: number };
      counts.items += output.Items?.length ?? (output.Item ? 1 : 0);
      return out;
    },
    { step: 'initialize' },
  );
  await ensureCatalogTable(client, TABLE);
  const documents = toDocumentClient(client);
  walCatalog = new DynamoWalCatalog(documents, TABLE);
  catalog = new DynamoCatalog(documents, TABLE);

  // 200,000 segment records, written in batches (the last 100 through recordWal, as indexing does).
  const bulk: number[] = [];
  for (let segno = 0; segno < SEGMENTS - 100; segno += 1) if (!missing(segno)) bulk.push(segno);
  const batches: number[][] = [];
  for (let index = 0; index < bulk.length; index += 25) batches.push(bulk.slice(index, index + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        let requests = batch.map((segno) => ({ PutRequest: { Item: segmentItem(segno) } }));
        while (requests.length > 0) {
          const out = await documents.send(new BatchWriteCommand({ RequestItems: { [TABLE]: requests } }));
          requests = (out.UnprocessedItems?.[TABLE] ?? []) as typeof requests;
        }
      }
    }),
  );
  // Their ranges, as `catalog rebuild` writes them.
  for (const timeline of [1, 2]) {
    const runs = rangesOfSegments(bulk.filter((segno) => timelineOf(segno) === timeline).map((segno) => ({ name: segmentName(timeline, BigInt(segno)), archivedAt: at(segno) })));
    await walCatalog.addRanges(DB, runs, 16 * 1024 * 1024);
  }
  for (let segno = SEGMENTS - 100; segno < SEGMENTS; segno += 1) {
    const item = segmentItem(segno);
    await walCatalog.recordWal({ format: WAL_RECORD_FORMAT, ...(item as object), storedSize: 100, storedSha256: 'b'.repeat(64), systemId: '7311234567890123456' } as unknown as WalRecord, at(segno));
  }
  await walCatalog.recordWal({ format: WAL_RECORD_FORMAT, database: DB, name: historyName(2), kind: 'history', timeline: 2, objectKey: walObjectKey(DB, historyName(2), 'none'), compression: 'none', size: HISTORY.length, sha256: 'c'.repeat(64), storedSize: HISTORY.length, storedSha256: 'c'.repeat(64), archivedAt: at(SWITCH_SEGNO) } as WalRecord, at(SWITCH_SEGNO));
  for (const [id, segno] of [['b1', 10_000], ['b2', 100_000], ['b3', 150_000], ['b4', 185_000]] as const) await catalog.create(base(id, segno));
  await walCatalog.putArchiveStatus(DB, { measuredAt: at(SEGMENTS), timeline: 2, timelineSource: 'checkpoint' });
}, 900_000);

afterAll(() => {
  client?.destroy();
  dynalite?.kill();
  console.log(`WAL ranges at ${SEGMENTS} segments: ${JSON.stringify(report)}`);
});

describe(`catalog questions at ${SEGMENTS} segments, 3 gaps, 2 timelines`, () => {
  it('the gap check reads the ranges, not the segments, and names the gap as a range', async () => {
    const gapDeps = { catalog, walCatalog, log, readHistory: async () => HISTORY };
    const switched = { lsn: formatLsn(segmentStartLsn(BigInt(SEGMENTS))), segment: segmentName(2, BigInt(SEGMENTS - 1)), timeline: 2 };

    const run = await measured(() => findArchiveGap(gapDeps, { database: DB, switched, segmentSize: 16 * 1024 * 1024, archivedThrough: switched.segment, graceMs: 0 }));
    report.gapCheck = { requests: run.requests, items: run.items, peakHeapMiB: +run.peakHeapMiB.toFixed(1) };

    expect(run.result).toMatchObject({ checked: true, baseBackupId: 'b4', missingCount: 3, missing: [{ first: segmentName(2, 190_000n), last: segmentName(2, 190_002n), count: 3 }] });
    expect(run.items).toBeLessThanOrEqual(20);
    expect(run.requests).toBeLessThanOrEqual(20);
    expect(run.peakHeapMiB).toBeLessThan(24);
  });

  it('a PITR plan to a time inside the window reads ranges and HEADs the ends and a sample, not every segment', async () => {
    const run = await measured(() => planRecovery({ catalog, walCatalog, storage, log }, DB, { type: 'time', at: new Date(at(170_000)), assumedUtc: false }));
    report.pitrPlan = { requests: run.requests, items: run.items, heads: run.heads, walSegments: run.result.plan.wal.count, peakHeapMiB: +run.peakHeapMiB.toFixed(1) };

    expect(run.result.plan).toMatchObject({ base: { id: 'b3' }, timelines: [1, 2], wal: { first: segmentName(2, 150_000n), last: segmentName(2, 189_999n), count: 40_000 } });
    expect(run.items).toBeLessThanOrEqual(20);
    expect(run.requests).toBeLessThanOrEqual(20);
    expect(run.heads).toBeLessThanOrEqual(2 + 64);
    expect(run.peakHeapMiB).toBeLessThan(24);
  });

  it('status reads ranges and shows every gap, the window and the archived count', async () => {
    const run = await measured(() => readStatus({ catalog, walCatalog, storage, log }, { databases: [DB], now: new Date(at(SEGMENTS + 10)) }));
    const status = run.result.databases[0]!;
    report.status = { requests: run.requests, items: run.items, peakHeapMiB: +run.peakHeapMiB.toFixed(1) };

    expect(status.pitr.gaps.map((gap) => [gap.first, gap.count])).toEqual([
      [segmentName(1, 50_000n), 10],
      [segmentName(1, 90_000n), 1],
      [segmentName(2, 190_000n), 3],
    ]);
    expect(status.pitr.gaps[0]).toMatchObject({ after: at(49_999), before: at(50_010) });
    expect(status.pitr.archivedSegments).toBe(SEGMENTS - 10_000 - 14);
    expect(status.pitr.lastArchived).toEqual({ name: segmentName(2, BigInt(SEGMENTS - 1)), archivedAt: at(SEGMENTS - 1) });
    expect(run.items).toBeLessThanOrEqual(20);
    expect(run.requests).toBeLessThanOrEqual(20);
    expect(run.peakHeapMiB).toBeLessThan(24);
  });

  it('for contrast: what reading the segments themselves (as before ranges) costs for timeline 2 alone', async () => {
    const run = await measured(() => walCatalog.listSegments(DB, 2, BigInt(SWITCH_SEGNO)));
    report.segmentListingOfTimeline2 = { requests: run.requests, items: run.items, peakHeapMiB: +run.peakHeapMiB.toFixed(1) };

    expect(run.items).toBe(SEGMENTS - SWITCH_SEGNO - 3);
    expect(run.peakHeapMiB).toBeGreaterThan(24);
  });
});
