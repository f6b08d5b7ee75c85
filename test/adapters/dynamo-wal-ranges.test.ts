/**
 * The WAL catalog's ranges on dynalite (issue 16, point 1): kept as segments are
 * recorded — in any order, concurrently —, cut when records are deleted, repaired from
 * the records, compacted.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { MAX_REPORTED_GAPS } from '../../shared/ports/wal-catalog';
import { rangePk } from '../../shared/adapters/catalog/dynamo-wal-ranges';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { formatLsn, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';

const TABLE = 'ranges';
let server: DynaliteServer;
let client: DynamoDBClient;
let wal: DynamoWalCatalog;

const at = (segno: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, segno)).toISOString();

function segment(database: string, segno: number, timeline = 1): WalRecord {
  const name = segmentName(timeline, BigInt(segno));
  return {
    format: WAL_RECORD_FORMAT,
    database,
    name,
    kind: 'segment',
    timeline,
    segno: String(segno),
    startLsn: formatLsn(segmentStartLsn(BigInt(segno))),
    endLsn: formatLsn(segmentStartLsn(BigInt(segno) + 1n)),
    objectKey: walObjectKey(database, name, 'zstd'),
    compression: 'zstd',
    size: 16 * 1024 * 1024,
    sha256: createHash('sha256').update(`${database}/${name}`).digest('hex'),
    storedSize: 1234,
    storedSha256: createHash('sha256').update(`stored ${database}/${name}`).digest('hex'),
    systemId: '7311234567890123456',
    archivedAt: at(segno),
  };
}

/** [from, to] of each range. */
async function spans(database: string, timeline = 1): Promise<number[][]> {
  return (await wal.listRanges(database, timeline)).map((range) => [Number(range.from), Number(range.to)]);
}

/** How many range items the timeline's partition holds (merged or not). */
async function rangeItems(database: string, timeline = 1): Promise<number> {
  const out = await client.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: rangePk(database, timeline) } }, Select: 'COUNT' }));
  return out.Count ?? 0;
}

/** A fixed shuffle (no clock, no randomness): stride 7 over 0..n-1. */
function shuffled(n: number): number[] {
  return Array.from({ length: n }, (_, index) => (index * 7) % n);
}

beforeAll(async () => {
  server = await startDynalite({});
  client = makeDynamoClient({ endpoint: server.endpoint });
  await ensureCatalogTable(client, TABLE);
  wal = new DynamoWalCatalog(toDocumentClient(client), TABLE, { pageSize: 7 });
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('DynamoWalCatalog ranges', () => {
  it('keeps one range for segments recorded out of order and all at once, with the times of its ends', async () => {
    // Act: 40 segments, 8 at a time, in a shuffled order
    const order = shuffled(40);
    for (let start = 0; start < order.length; start += 8) {
      await Promise.all(order.slice(start, start + 8).map((segno) => wal.recordWal(segment('conc', segno), at(segno))));
    }
    // Assess
    const [range] = await wal.listRanges('conc', 1);
    expect(await spans('conc')).toEqual([[0, 39]]);
    expect(range).toMatchObject({ first: { name: segmentName(1, 0n), archivedAt: at(0) }, last: { name: segmentName(1, 39n), archivedAt: at(39) }, segmentSize: 16 * 1024 * 1024 });
    expect(await rangeItems('conc')).toBe(1);
  });

  it('keeps a gap as two ranges, per timeline, and a repeated record changes nothing', async () => {
    for (const segno of [0, 1, 2, 5, 6]) await wal.recordWal(segment('gap', segno), at(segno));
    for (const segno of [6, 7]) await wal.recordWal(segment('gap', segno, 2), at(segno));
    expect(await wal.recordWal(segment('gap', 1), at(1))).toBe('exists');

    expect(await spans('gap')).toEqual([[0, 2], [5, 6]]);
    expect(await spans('gap', 2)).toEqual([[6, 7]]);
  });

  it('takes deleted records out of the ranges first: a cut at the low end and one in the middle', async () => {
    for (let segno = 0; segno < 20; segno += 1) await wal.recordWal(segment('cut', segno), at(segno));

    await wal.deleteWalRecords('cut', [0, 1, 2, 3, 4, 10, 11].map((segno) => segmentName(1, BigInt(segno))));

    expect(await spans('cut')).toEqual([[5, 9], [12, 19]]);
    const ranges = await wal.listRanges('cut', 1);
    expect(ranges[0]!.first).toEqual({ name: segmentName(1, 5n), archivedAt: at(5) });
    expect(ranges[0]!.last).toEqual({ name: segmentName(1, 9n), archivedAt: at(9) });
    expect(ranges[1]!.first).toEqual({ name: segmentName(1, 12n), archivedAt: at(12) });
    expect(await wal.getWal('cut', segmentName(1, 4n))).toBeUndefined();
    // New segments still extend the part after the cut.
    await wal.recordWal(segment('cut', 20), at(20));
    expect(await spans('cut')).toEqual([[5, 9], [12, 20]]);
  });

  it('finds records a range lacks (a writer died between its two writes), repairs them, and compacts', async () => {
    for (const segno of [0, 1, 2, 6, 7]) await wal.recordWal(segment('repair', segno), at(segno));
    // Records 3..5 written without their ranges, as by a writer killed between the two writes.
    for (const segno of [3, 4, 5]) {
      const record = segment('repair', segno);
      await toDocumentClient(client).send(new PutCommand({ TableName: TABLE, Item: { ...record, indexedAt: at(segno), pk: `WAL#repair#00000001`, sk: record.name } }));
    }
    expect(await spans('repair')).toEqual([[0, 2], [6, 7]]);

    const found = await wal.recordedRuns('repair', 1, 3n, 5n, 16 * 1024 * 1024);
    expect(found.map((run) => [Number(run.from), Number(run.to), run.first.archivedAt])).toEqual([[3, 5, at(3)]]);
    await wal.addRanges('repair', found, 16 * 1024 * 1024);
    const compacted = await wal.compactRanges('repair', 1);

    expect(compacted.ranges.map((range) => [Number(range.from), Number(range.to)])).toEqual([[0, 7]]);
    expect(await rangeItems('repair')).toBe(1);
  });

  it('the archive status holds gap runs and counts: 100 runs of a million missing segments are one small item', async () => {
    const gaps = Array.from({ length: MAX_REPORTED_GAPS }, (_, index) => ({ first: segmentName(1, BigInt(index * 20_000)), last: segmentName(1, BigInt(index * 20_000 + 9_999)), count: 10_000 }));
    const status = { measuredAt: at(1), gaps, gapSegments: 1_000_000, gapRanges: 100, timeline: 1, timelineSource: 'checkpoint' as const };

    expect(await wal.putArchiveStatus('holes', status)).toBe(true);
    expect(await wal.getArchiveStatus('holes')).toEqual(status);
    expect(Buffer.byteLength(JSON.stringify(status))).toBeLessThan(16 * 1024);
  });

  it('a catalog rebuild (recordWals) records the ranges of what it writes and of what was there', async () => {
    await wal.recordWal(segment('rebuild', 3), at(3));
    const result = await wal.recordWals([0, 1, 2, 3, 4, 8, 9].map((segno) => segment('rebuild', segno)), at(10));

    expect(result).toMatchObject({ created: 6, existing: 1 });
    expect(await spans('rebuild')).toEqual([[0, 4], [8, 9]]);
  });
});
