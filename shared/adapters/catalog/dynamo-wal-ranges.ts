import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { assertDatabaseName } from '../../domain/keys';
import { segmentName } from '../../domain/wal/names';
import type { WalRecord } from '../../domain/wal/record';
import { segmentSizeOf } from './dynamo-wal-keys';
import { normalizeRanges, rangesOfSegments, type RangeEnd, type WalRange } from '../../domain/wal/ranges';
import { CatalogError } from '../../errors';
import { addRun, compactRanges, MAX_SEGNO, subtractRun, type RangeStore } from './wal-ranges';
import { catalogRequest, conditionalWrite } from './sdk-errors';
import { rangeViewAttributes } from './wal-view-keys';

/**
 * A timeline's archived ranges on the catalog table (the `RangeStore` of wal-ranges.ts):
 *
 * | pk                          | sk                                   | item |
 * |-----------------------------|--------------------------------------|------|
 * | `WALRANGE#<db>#<TTTTTTTT>`  | the 16 hex digits after the timeline of the range's first segment name | `from`, `to` (segment numbers), `segmentSize`, the first and last segment's names and archive times; `entity`, `gsiSort` (the WAL view, dynamo-wal-view.ts) |
 *
 * Segment names order like segment numbers within a timeline, so the sort key is the
 * name's tail: a deleted record's name finds its range without knowing the segment size.
 */
type Item = Record<string, unknown>;

/** The highest segment number's sort key with 1 MiB segments sorts after every other: reads a whole partition. */
const MAX_SEGNO_1MIB = MAX_SEGNO;

function hex8(timeline: number): string {
  return timeline.toString(16).toUpperCase().padStart(8, '0');
}

/** The partition of a database's ranges on one timeline. */
export function rangePk(database: string, timeline: number): string {
  assertDatabaseName(database);
  return `WALRANGE#${database}#${hex8(timeline)}`;
}

/** A range item as a range. */
export function toRange(item: Item): WalRange {
  const end = (name: unknown, at: unknown): RangeEnd => ({ name: String(name), ...(typeof at === 'string' ? { archivedAt: at } : {}) });
  return { timeline: Number(item.timeline), from: BigInt(item.from as number), to: BigInt(item.to as number), first: end(item.firstName, item.firstAt), last: end(item.lastName, item.lastAt), ...(typeof item.segmentSize === 'number' ? { segmentSize: item.segmentSize } : {}), ...(item.split === true ? { split: true } : {}) };
}

/** The ranges of one database's timeline on DynamoDB; conditional writes, strongly consistent reads. */
export class DynamoRangeStore implements RangeStore {
  private readonly pk: string;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly database: string,
    private readonly timeline: number,
    private readonly segmentSize: number,
    private readonly pageSize = 500,
  ) {
    this.pk = rangePk(database, timeline);
  }

  /** The sort key of the range starting at `segno`. */
  private sk(segno: bigint): string {
    return segmentName(this.timeline, segno, this.segmentSize).slice(8);
  }

  async floor(segno: bigint): Promise<WalRange | undefined> {
    const items = await this.query(`read the WAL ranges of database ${this.database}`, { KeyConditionExpression: 'pk = :pk AND sk <= :sk', ExpressionAttributeValues: { ':pk': this.pk, ':sk': this.sk(segno) } }, { limit: 1, backwards: true });
    return items[0] ? toRange(items[0]) : undefined;
  }

  async between(low: bigint, high: bigint): Promise<WalRange[]> {
    const items = await this.query(`read the WAL ranges of database ${this.database}`, {
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: { ':pk': this.pk, ':low': this.sk(low), ':high': this.sk(high) },
    });
    return items.map(toRange);
  }

  create(range: WalRange): Promise<boolean> {
    const sk = this.sk(range.from);
    const item: Item = {
      pk: this.pk,
      sk,
      ...rangeViewAttributes(this.database, this.timeline, sk),
      timeline: this.timeline,
      segmentSize: this.segmentSize,
      from: Number(range.from),
      to: Number(range.to),
      firstName: range.first.name,
      lastName: range.last.name,
      ...(range.first.archivedAt !== undefined ? { firstAt: range.first.archivedAt } : {}),
      ...(range.last.archivedAt !== undefined ? { lastAt: range.last.archivedAt } : {}),
      ...(range.split ? { split: true } : {}),
    };
    const put = new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' });
    return this.conditional(`record a WAL range of database ${this.database}`, () => this.client.send(put));
  }

  setEnd(from: bigint, expectedTo: bigint, to: bigint, last: RangeEnd): Promise<boolean> {
    const sk = this.sk(from);
    const view = rangeViewAttributes(this.database, this.timeline, sk);
    // The view's attributes too: a range written before the view joins it when it next grows or is cut.
    const sets = `SET #to = :to, lastName = :name, #entity = :entity, #gsiSort = :gsiSort${last.archivedAt !== undefined ? ', lastAt = :at' : ''}`;
    const update = new UpdateCommand({
      TableName: this.tableName,
      Key: { pk: this.pk, sk },
      UpdateExpression: last.archivedAt !== undefined ? sets : `${sets} REMOVE lastAt`,
      ConditionExpression: '#to = :expected',
      ExpressionAttributeNames: { '#to': 'to', '#entity': 'entity', '#gsiSort': 'gsiSort' },
      ExpressionAttributeValues: { ':to': Number(to), ':name': last.name, ':expected': Number(expectedTo), ':entity': view.entity, ':gsiSort': view.gsiSort, ...(last.archivedAt !== undefined ? { ':at': last.archivedAt } : {}) },
    });
    return this.conditional(`extend a WAL range of database ${this.database}`, () => this.client.send(update));
  }

  remove(from: bigint, expectedTo: bigint, splitToo = false): Promise<boolean> {
    const remove = new DeleteCommand({
      TableName: this.tableName,
      Key: { pk: this.pk, sk: this.sk(from) },
      ConditionExpression: splitToo ? '#to = :expected' : '#to = :expected AND attribute_not_exists(#split)',
      ExpressionAttributeNames: { '#to': 'to', ...(splitToo ? {} : { '#split': 'split' }) },
      ExpressionAttributeValues: { ':expected': Number(expectedTo) },
    });
    return this.conditional(`merge WAL ranges of database ${this.database}`, () => this.client.send(remove));
  }

  /** Pages through the key condition (or reads one page of `limit`). */
  private async query(action: string, input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'>, options: { limit?: number; backwards?: boolean } = {}): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const command = new QueryCommand({
        TableName: this.tableName,
        ...input,
        ConsistentRead: true,
        Limit: options.limit ?? this.pageSize,
        ...(options.backwards ? { ScanIndexForward: false } : {}),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      });
      const page = await catalogRequest(this.client, this.tableName, action, () => this.client.send(command));
      items.push(...(page.Items ?? []));
      startKey = options.limit === undefined ? page.LastEvaluatedKey : undefined;
    } while (startKey);
    return items;
  }

  private conditional(action: string, write: () => Promise<unknown>): Promise<boolean> {
    return conditionalWrite(this.client, this.tableName, action, write);
  }
}

/** The segment size the ranges of a timeline were written with (any one of its items), or undefined when it has none. */
export async function storedSegmentSize(client: DynamoDBDocumentClient, tableName: string, database: string, timeline: number): Promise<number | undefined> {
  const command = new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': rangePk(database, timeline) }, Limit: 1, ConsistentRead: true });
  const page = await catalogRequest(client, tableName, `read the WAL ranges of database ${database}`, () => client.send(command));
  const size = page.Items?.[0]?.segmentSize;
  return typeof size === 'number' ? size : undefined;
}

/** The ranges' side of the WAL catalog on DynamoDB: what DynamoWalCatalog delegates to. */
export class DynamoWalRanges {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly pageSize: number,
    /** The record of a WAL file (to name a range's new end), or undefined. */
    private readonly getWal: (database: string, name: string) => Promise<{ archivedAt: string } | undefined>,
  ) {}

  store(database: string, timeline: number, segmentSize: number): DynamoRangeStore {
    return new DynamoRangeStore(this.client, this.tableName, database, timeline, segmentSize, this.pageSize);
  }

  /** Adds each run to its timeline's ranges. Throws CatalogError when concurrent writers kept winning. */
  /** Adds recorded segments (other kinds are skipped) to their timelines' ranges, one run at a time. */
  async addRecords(records: readonly WalRecord[]): Promise<void> {
    const groups = new Map<string, WalRecord[]>();
    for (const record of records) {
      if (record.kind !== 'segment') continue;
      const id = `${record.database}\u0000${segmentSizeOf(record)}`;
      const group = groups.get(id);
      if (group) group.push(record);
      else groups.set(id, [record]);
    }
    for (const group of groups.values()) {
      const size = segmentSizeOf(group[0]!);
      await this.add(group[0]!.database, rangesOfSegments(group, size), size);
    }
  }

  async add(database: string, runs: readonly WalRange[], segmentSize: number): Promise<void> {
    for (const run of runs) {
      if (!(await addRun(this.store(database, run.timeline, segmentSize), run))) {
        throw new CatalogError(`cannot add ${run.first.name}..${run.last.name} to the WAL ranges of database ${database}: other writers kept changing them`, 'index the segment again (its event is retried; `strongbox catalog rebuild` re-indexes everything)');
      }
    }
  }

  /** The joined ranges of one timeline (an empty timeline has none). */
  async list(database: string, timeline: number): Promise<WalRange[]> {
    // The segment size only shapes the sort keys: any valid one reads the whole partition.
    return normalizeRanges(await this.store(database, timeline, 1 << 20).between(0n, MAX_SEGNO_1MIB));
  }

  async compact(database: string, timeline: number): Promise<{ ranges: WalRange[]; read: number; removed: number }> {
    const size = await storedSegmentSize(this.client, this.tableName, database, timeline);
    if (size === undefined) return { ranges: [], read: 0, removed: 0 };
    return compactRanges(this.store(database, timeline, size));
  }

  /** Takes these segment names out of their timelines' ranges (before their records go). */
  async subtract(database: string, names: readonly string[]): Promise<void> {
    const byTimeline = new Map<number, string[]>();
    for (const name of names) {
      if (!/^[0-9A-F]{24}$/.test(name)) continue;
      const timeline = Number.parseInt(name.slice(0, 8), 16);
      byTimeline.set(timeline, [...(byTimeline.get(timeline) ?? []), name]);
    }
    for (const [timeline, segments] of byTimeline) {
      const size = await storedSegmentSize(this.client, this.tableName, database, timeline);
      if (size === undefined) continue;
      const store = this.store(database, timeline, size);
      const endAt = async (segno: bigint): Promise<RangeEnd> => {
        const name = segmentName(timeline, segno, size);
        const record = await this.getWal(database, name);
        return { name, ...(record ? { archivedAt: record.archivedAt } : {}) };
      };
      for (const hole of rangesOfSegments(segments.map((name) => ({ name })), size)) {
        if (!(await subtractRun(store, hole, endAt))) {
          throw new CatalogError(`cannot take ${hole.first.name}..${hole.last.name} out of the WAL ranges of database ${database}: other writers kept changing them`, 'run retention again (it finishes what it marked)');
        }
      }
    }
  }

  /** Runs of the segment records of `timeline` numbered `fromSegno`..`toSegno`, read page by page. */
  async recordedRuns(database: string, pk: string, timeline: number, fromSegno: bigint, toSegno: bigint, segmentSize: number): Promise<WalRange[]> {
    const runs: WalRange[] = [];
    let startKey: Item | undefined;
    do {
      const command = new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
        ExpressionAttributeValues: { ':pk': pk, ':low': segmentName(timeline, fromSegno, segmentSize), ':high': segmentName(timeline, toSegno, segmentSize) },
        ProjectionExpression: 'sk, archivedAt',
        ConsistentRead: true,
        Limit: this.pageSize,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      });
      const page = await catalogRequest(this.client, this.tableName, `read the WAL segments of database ${database}`, () => this.client.send(command));
      const segments = (page.Items ?? []).map((item) => ({ name: String(item.sk), ...(typeof item.archivedAt === 'string' ? { archivedAt: item.archivedAt } : {}) }));
      // Fold page by page: memory holds the runs, never the records.
      runs.push(...rangesOfSegments(segments, segmentSize));
      runs.splice(0, runs.length, ...normalizeRanges(runs));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return runs;
  }
}
