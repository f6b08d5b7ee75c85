/**
 * WAL deletion throughput of retention (issue 16, point 3), before and after, in the same
 * run: one database's archive of `segments` segments (records and bytes in s3rver, their
 * catalog items and ranges in dynalite) deleted by one WAL cut-off, first the way
 * retention did before (one page at a time, BatchWrites one after another: in-flight 1,
 * write concurrency 1), then as it does now (4 pages in flight, 8 BatchWrites in flight).
 * Both stand-ins answer in under a millisecond on this machine, where AWS answers in
 * tens: the second pair of rows adds `latencyMs` to every request of both clients, which
 * is what parallel requests are for.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import type { Storage } from '../../shared/ports/storage';
import type { WalRetentionMark } from '../../shared/domain/retention';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { segmentName } from '../../shared/domain/wal/names';
import { rangesOfSegments } from '../../shared/domain/wal/ranges';
import { WAL_RECORD_FORMAT } from '../../shared/domain/wal/record';
import { ensureCatalogTable } from '../../shared/local/dynalite-server';
import { silentLog } from '../../shared/ports';
import { applyWalMark } from '../../shared/usecases/retention/wal-apply';

export interface ThroughputRow {
  variant: string;
  latencyMs: number;
  segments: number;
  seconds: number;
  perSecond: number;
  deleteObjects: number;
  batchWrites: number;
}

const SHA = 'a'.repeat(64);
const SIZE = 16 * 1024 * 1024;

async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/** Adds `latency.ms` before each request of `client`, and counts requests by command. */
function instrument(any: DynamoDBClient | S3Client, latency: { ms: number }, counts: Record<string, number>, name: string): void {
  // Both stacks take the same initialize-step middleware; one type keeps the call simple.
  const client = any as DynamoDBClient;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (latency.ms > 0) await new Promise((done) => setTimeout(done, latency.ms));
      counts[context.commandName ?? 'unknown'] = (counts[context.commandName ?? 'unknown'] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name },
  );
}

/** One database's archive: catalog items written directly (as indexing leaves them), ranges, and the two objects per segment. */
async function load(documents: DynamoDBDocumentClient, table: string, walCatalog: DynamoWalCatalog, storage: Storage, database: string, segments: number): Promise<void> {
  const items: Array<Record<string, unknown>> = [];
  for (let s = 1; s <= segments; s += 1) {
    const name = segmentName(1, BigInt(s));
    const archivedAt = new Date(Date.UTC(2026, 0, 1) + s * 100).toISOString();
    items.push({ format: WAL_RECORD_FORMAT, database, name, kind: 'segment', timeline: 1, segno: String(s), objectKey: walObjectKey(database, name, 'zstd'), compression: 'zstd', size: SIZE, sha256: SHA, storedSize: 10, storedSha256: SHA, systemId: '7311234567890123456', archivedAt, indexedAt: archivedAt, pk: `WAL#${database}#00000001`, sk: name });
  }
  const batches: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  await pool(batches, 16, async (batch) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) requests = ((await documents.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }))).UnprocessedItems?.[table] ?? []) as typeof requests;
  });
  await walCatalog.addRanges(database, rangesOfSegments(items.map((item) => ({ name: String(item.name), archivedAt: String(item.archivedAt) }))), SIZE);
  await pool(items, 16, async (item) => {
    await storage.putBytes(String(item.objectKey), 'segment!!!');
    await storage.putBytes(walRecordKey(database, String(item.name)), '{}');
  });
}

/**
 * Runs the four variants (before/after × no latency/`latencyMs`), each on its own
 * database and table; checks that each deleted every segment. Returns the rows.
 */
export async function deletionThroughput(options: { client: DynamoDBClient; documents: DynamoDBDocumentClient; s3: S3Client; storage: Storage; segments: number; latencyMs: number; progress: (line: string) => void }): Promise<ThroughputRow[]> {
  const latency = { ms: 0 };
  const counts: Record<string, number> = {};
  instrument(options.client, latency, counts, 'benchDynamoLatency');
  instrument(options.s3, latency, counts, 'benchS3Latency');
  const variants = [
    { variant: 'before: 1 page at a time, BatchWrites in sequence', inFlight: 1, writeConcurrency: 1, latencyMs: 0 },
    { variant: 'after: 4 pages in flight, 8 BatchWrites in flight', inFlight: 4, writeConcurrency: 8, latencyMs: 0 },
    { variant: 'before: 1 page at a time, BatchWrites in sequence', inFlight: 1, writeConcurrency: 1, latencyMs: options.latencyMs },
    { variant: 'after: 4 pages in flight, 8 BatchWrites in flight', inFlight: 4, writeConcurrency: 8, latencyMs: options.latencyMs },
  ];
  const rows: ThroughputRow[] = [];
  for (const [index, one] of variants.entries()) {
    const table = `bench-retention-throughput-${index}`;
    const database = `tp${index}`;
    await ensureCatalogTable(options.client, table);
    const walCatalog = new DynamoWalCatalog(options.documents, table, { writeConcurrency: one.writeConcurrency });
    options.progress(`throughput: loading ${options.segments} segments for "${one.variant}" (+${one.latencyMs} ms)…`);
    latency.ms = 0;
    await load(options.documents, table, walCatalog, options.storage, database, options.segments);
    const mark: WalRetentionMark = { at: new Date().toISOString(), rule: 'WAL_WINDOW', timelines: [{ timeline: 1, deleteBelow: segmentName(1, BigInt(options.segments + 1)) }], keep: [] };
    for (const key of Object.keys(counts)) delete counts[key];
    latency.ms = one.latencyMs;
    const started = performance.now();
    const outcome = await applyWalMark({ storage: options.storage, walCatalog, log: silentLog, clock: () => new Date() }, database, mark, 1000, one.inFlight);
    const seconds = (performance.now() - started) / 1000;
    latency.ms = 0;
    const left = await walCatalog.countSegmentsBelow(database, 1, segmentName(1, BigInt(options.segments + 1)));
    if (outcome.segments !== options.segments || left !== 0) throw new Error(`${one.variant}: deleted ${outcome.segments} of ${options.segments}, ${left} left in the catalog`);
    rows.push({ variant: one.variant, latencyMs: one.latencyMs, segments: outcome.segments, seconds, perSecond: outcome.segments / seconds, deleteObjects: counts.DeleteObjectsCommand ?? 0, batchWrites: counts.BatchWriteItemCommand ?? 0 });
  }
  return rows;
}
