import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_SEGMENT_SIZE, segmentName } from '../../domain/wal/names';
import type { WalRecord } from '../../domain/wal/record';
import type { WalRange } from '../../domain/wal/ranges';
import { inPool } from '../../domain/in-pool';
import { DynamoWalRanges } from './dynamo-wal-ranges';
import { BATCH_GET_MAX, batchGetKeys, batchWrite, inBatches } from './dynamo-batch';
import { defined, hex8, walKey, walPk, type Item } from './dynamo-wal-keys';
import { CatalogError, InputError, walRecordConflict } from '../../errors';
import type { WalRetentionMark } from '../../domain/retention/types';
import type { ArchiveStatus, IndexedWalRecord, ReconcileCursor, RestorePoint, WalCatalog, WalPage, WalTimelineSummary } from '../../ports/wal-catalog';
import { catalogRequest } from './sdk-errors';
import { DynamoWalView } from './dynamo-wal-view';
import { clearRetentionMark, countSegmentsBelow, getRetentionMark, listSegmentsBelow, putRetentionMark } from './dynamo-wal-retention';
import * as meta from './dynamo-wal-meta';
import type { PagedIo } from './dynamo-wal-meta';
import { withoutKeys } from './wal-view-keys';

/** Tuning of DynamoWalCatalog. */
export interface DynamoWalCatalogOptions {
  /** Items per Query page (DynamoDB's `Limit`); small values exercise paging in tests. */
  pageSize?: number;
  /** BatchWriteItem requests in flight when deleting many records (default 8; 1 sends them one after another). */
  writeConcurrency?: number;
}

/** What to do when DynamoDB keeps a batch of the indexing unprocessed. */
const REBUILD_HINT = 'the table is throttled: run the rebuild again later (it is idempotent)';
/** BatchWriteItem requests in flight while deleting records (retention): 8 × 25 deletes. */
const DELETE_CONCURRENCY = 8;

/** A lost race with retention (the record deleted between our put and our read) is retried this often. */
const RECORD_ATTEMPTS = 3;

/**
 * The WAL catalog on the backup catalog's DynamoDB table. Conditional writes keep records
 * write-once and timeline summaries monotonic. Throws only Strongbox errors:
 * ConflictError, CatalogError, InputError and BAD_WAL_NAME / BAD_LSN.
 */
export class DynamoWalCatalog implements WalCatalog {
  private readonly pageSize: number;
  private readonly writeConcurrency: number;
  private readonly ranges: DynamoWalRanges;
  private readonly view: DynamoWalView;
  /** The last range cut of each database in progress (deleteWalRecords): the next one waits for it. */
  private readonly cuts = new Map<string, Promise<void>>();
  /** The table, how requests are sent and the page size, for the helpers (dynamo-batch.ts, dynamo-wal-meta.ts). */
  private readonly io: PagedIo;

  /** `client` should omit undefined values (see `toDocumentClient`); `tableName` has the schema of schema.ts. */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoWalCatalogOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 500;
    this.io = { client, tableName, pageSize: this.pageSize, call: (action, request) => catalogRequest(client, tableName, action, request) };
    this.writeConcurrency = options.writeConcurrency ?? DELETE_CONCURRENCY;
    this.ranges = new DynamoWalRanges(client, tableName, this.pageSize, (database, name) => this.getWal(database, name));
    // The view's pages are its own (1,000 items) unless a test asks for small ones.
    this.view = new DynamoWalView(client, tableName, options.pageSize);
  }

  readViews(databases?: ReadonlySet<string>): ReturnType<DynamoWalView['readViews']> {
    return this.view.readViews(databases);
  }

  backfillView(database: string): Promise<number> {
    return this.view.backfillView(database);
  }

  markViewComplete(at: string): Promise<void> {
    return this.view.markViewComplete(at);
  }

  async recordWal(record: WalRecord, indexedAt: string): Promise<'created' | 'exists'> {
    const { kind, timeline, ...key } = walKey(record.database, record.name);
    if (kind !== record.kind || timeline !== record.timeline) {
      throw new InputError(`the record of ${record.name} says ${record.kind} on timeline ${record.timeline}`, 'a record must describe the file its name names: it was not recorded');
    }
    const action = `record WAL file ${record.name} of database ${record.database}`;
    for (let attempt = 1; ; attempt += 1) {
      const put = new PutCommand({ TableName: this.tableName, Item: { ...defined(record), indexedAt, ...key }, ConditionExpression: 'attribute_not_exists(pk)' });
      if (await meta.conditional(this.io, action, () => this.client.send(put))) {
        await meta.raiseTimeline(this.io, record, indexedAt);
        await this.ranges.addRecords([record]);
        return 'created';
      }
      const existing = await this.getWal(record.database, record.name);
      if (existing && existing.sha256 === record.sha256) {
        // A crash between the put and the summary's (or the ranges') update is repaired by the retry.
        await meta.raiseTimeline(this.io, record, indexedAt);
        await this.ranges.addRecords([existing]);
        return 'exists';
      }
      if (existing) {
        throw walRecordConflict({ database: record.database, name: record.name, recorded: String(existing.sha256), offered: record.sha256 });
      }
      if (attempt >= RECORD_ATTEMPTS) throw new CatalogError(`cannot ${action}: its record kept appearing and disappearing`, 'something deletes WAL records while they are indexed (retention?); run the indexing again');
    }
  }

  async recordWals(records: readonly WalRecord[], indexedAt: string): ReturnType<WalCatalog['recordWals']> {
    const result: Awaited<ReturnType<WalCatalog['recordWals']>> = { created: 0, existing: 0, conflicts: [] };
    const keyed = records.map((record) => {
      const { kind, timeline, ...key } = walKey(record.database, record.name);
      if (kind !== record.kind || timeline !== record.timeline) {
        throw new InputError(`the record of ${record.name} says ${record.kind} on timeline ${record.timeline}`, 'a record must describe the file its name names: nothing was recorded');
      }
      return { record, key };
    });
    const recorded: WalRecord[] = [];
    for (let start = 0; start < keyed.length; start += BATCH_GET_MAX) {
      const slice = keyed.slice(start, start + BATCH_GET_MAX);
      const found = await batchGetKeys(this.io, slice.map(({ key }) => key), REBUILD_HINT);
      const absent: Item[] = [];
      for (const { record, key } of slice) {
        const existing = found.get(`${key.pk}\u0000${key.sk}`);
        if (!existing || existing.sha256 === record.sha256) recorded.push(record);
        if (!existing) absent.push({ ...defined(record), indexedAt, ...key });
        else if (existing.sha256 === record.sha256) result.existing += 1;
        else result.conflicts.push({ name: record.name, database: record.database, recorded: String(existing.sha256), offered: record.sha256 });
      }
      for (const batch of inBatches(absent.map((Item) => ({ PutRequest: { Item } })))) await batchWrite(this.io, batch, `record WAL files of database ${slice[0]!.record.database}`, REBUILD_HINT);
      result.created += absent.length;
    }
    // One summary update per timeline, with its highest name: a crash before it is repaired by the next rebuild or push.
    const highest = new Map<string, WalRecord>();
    for (const record of records) {
      if (record.kind !== 'segment' && record.kind !== 'partial') continue;
      const id = `${record.database}\u0000${record.timeline}`;
      const current = highest.get(id);
      if (!current || current.name < record.name) highest.set(id, record);
    }
    for (const record of highest.values()) await meta.raiseTimeline(this.io, record, indexedAt);
    await this.ranges.addRecords(recorded);
    return result;
  }

  listRanges(database: string, timeline: number): Promise<WalRange[]> {
    return this.ranges.list(database, timeline);
  }

  recordedRuns(database: string, timeline: number, fromSegno: bigint, toSegno: bigint, segmentSize: number): Promise<WalRange[]> {
    return this.ranges.recordedRuns(database, walPk(database, hex8(timeline)), timeline, fromSegno, toSegno, segmentSize);
  }

  addRanges(database: string, runs: readonly WalRange[], segmentSize: number): Promise<void> {
    return this.ranges.add(database, runs, segmentSize);
  }

  compactRanges(database: string, timeline: number): ReturnType<WalCatalog['compactRanges']> {
    return this.ranges.compact(database, timeline);
  }

  async getWal(database: string, name: string): Promise<IndexedWalRecord | undefined> {
    const { pk, sk } = walKey(database, name);
    const item = await meta.getItem(this.io, `read WAL record ${name} of database ${database}`, { pk, sk });
    return item ? withoutKeys<IndexedWalRecord>(item) : undefined;
  }

  async getWals(files: ReadonlyArray<{ database: string; name: string }>): Promise<Map<string, IndexedWalRecord>> {
    const keys = [...new Map(files.map(({ database, name }) => {
      const { pk, sk } = walKey(database, name);
      return [`${pk}\u0000${sk}`, { pk, sk }] as const;
    })).values()];
    const found = new Map<string, IndexedWalRecord>();
    for (let start = 0; start < keys.length; start += BATCH_GET_MAX) {
      for (const item of (await batchGetKeys(this.io, keys.slice(start, start + BATCH_GET_MAX), REBUILD_HINT)).values()) {
        const record = withoutKeys<IndexedWalRecord>(item);
        found.set(`${record.database}\u0000${record.name}`, record);
      }
    }
    return found;
  }

  async listSegments(database: string, timeline: number, fromSegno?: bigint, toSegno?: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): Promise<IndexedWalRecord[]> {
    if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffff_ffff) throw new InputError(`${timeline} is not a timeline`, 'timelines are whole numbers from 1');
    if ((fromSegno ?? 0n) < 0n || (toSegno ?? 0n) < 0n) throw new InputError('segment numbers cannot be negative', 'give segment numbers from segnoOfLsn');
    const range: string[] = [];
    const values: Item = { ':pk': walPk(database, hex8(timeline)) };
    if (fromSegno !== undefined) values[':from'] = segmentName(timeline, fromSegno, segmentSize);
    // A `.partial` sorts right after its segment: the bound keeps it.
    if (toSegno !== undefined) values[':to'] = `${segmentName(timeline, toSegno, segmentSize)}.partial`;
    if (fromSegno !== undefined && toSegno !== undefined) range.push('sk BETWEEN :from AND :to');
    else if (fromSegno !== undefined) range.push('sk >= :from');
    else if (toSegno !== undefined) range.push('sk <= :to');
    if (fromSegno !== undefined && toSegno !== undefined && fromSegno > toSegno) return [];
    const items = await meta.queryAll(this.io, `list the WAL segments of database ${database} on timeline ${timeline}`, {
      KeyConditionExpression: ['pk = :pk', ...range].join(' AND '),
      ExpressionAttributeValues: values,
    });
    return items.map((item) => withoutKeys<IndexedWalRecord>(item));
  }

  async listHistories(database: string): Promise<IndexedWalRecord[]> {
    return meta.listPartition(this.io, `list the timeline histories of database ${database}`, walPk(database, 'HISTORY'));
  }

  async listBackupLabels(database: string): Promise<IndexedWalRecord[]> {
    return meta.listPartition(this.io, `list the backup labels of database ${database}`, walPk(database, 'BACKUP'));
  }

  timelines(database: string): Promise<WalTimelineSummary[]> {
    return meta.timelines(this.io, database);
  }

  readMeta(database: string): ReturnType<WalCatalog['readMeta']> {
    return meta.readMeta(this.io, database);
  }

  putArchiveStatus(database: string, status: ArchiveStatus): Promise<boolean> {
    return meta.putArchiveStatus(this.io, database, status);
  }

  getArchiveStatus(database: string): Promise<ArchiveStatus | undefined> {
    return meta.getArchiveStatus(this.io, database);
  }

  recordRestorePoint(database: string, point: RestorePoint): Promise<'created' | 'exists'> {
    return meta.recordRestorePoint(this.io, database, point);
  }

  listRestorePoints(database: string): Promise<RestorePoint[]> {
    return meta.listRestorePoints(this.io, database);
  }

  getRestorePoint(database: string, name: string): Promise<RestorePoint | undefined> {
    return meta.getRestorePoint(this.io, database, name);
  }

  listSegmentsBelow(...args: Parameters<WalCatalog['listSegmentsBelow']>): Promise<WalPage> {
    return listSegmentsBelow(this.io, this.pageSize, ...args);
  }

  countSegmentsBelow(...args: Parameters<WalCatalog['countSegmentsBelow']>): Promise<number> {
    return countSegmentsBelow(this.io, ...args);
  }

  async deleteWalRecords(database: string, names: readonly string[]): Promise<void> {
    // Out of the ranges first: a range never claims a segment whose record is gone. Cutting
    // ranges is not safe against a concurrent cut, so this catalog's cuts of one database go
    // one at a time (retention deletes several pages at once); the deletes below do not wait.
    const previous = this.cuts.get(database) ?? Promise.resolve();
    const cut = previous.then(() => this.ranges.subtract(database, names));
    const settled = cut.catch(() => undefined);
    this.cuts.set(database, settled);
    try {
      await cut;
    } finally {
      if (this.cuts.get(database) === settled) this.cuts.delete(database);
    }
    const keys = names.map((name) => {
      const { pk, sk } = walKey(database, name);
      return { pk, sk };
    });
    // Several batches in flight (each retries its own unprocessed items with backoff).
    await inPool(inBatches(keys.map((Key) => ({ DeleteRequest: { Key } }))), this.writeConcurrency, (batch) =>
      batchWrite(this.io, batch, `delete WAL records of database ${database}`, 'the table is throttled: run retention again later (it finishes what it marked)'),
    );
  }

  getRetentionMark(database: string): Promise<unknown> {
    return getRetentionMark(this.io, database);
  }

  putRetentionMark(database: string, mark: WalRetentionMark): Promise<void> {
    return putRetentionMark(this.io, database, mark);
  }

  clearRetentionMark(database: string, at: string): Promise<void> {
    return clearRetentionMark(this.io, database, at);
  }

  deleteRestorePoint(database: string, name: string): Promise<void> {
    return meta.deleteRestorePoint(this.io, database, name);
  }

  getReconcileCursor(database: string, timeline: number): Promise<ReconcileCursor | undefined> {
    return meta.getReconcileCursor(this.io, database, timeline);
  }

  putReconcileCursor(database: string, cursor: ReconcileCursor): Promise<void> {
    return meta.putReconcileCursor(this.io, database, cursor);
  }
}
