import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseLsn, segmentName } from '../../domain/wal/names';
import type { WalRecord } from '../../domain/wal/record';
import { rangesOfSegments, type WalRange } from '../../domain/wal/ranges';
import { inPool } from '../../domain/in-pool';
import { DynamoWalRanges } from './dynamo-wal-ranges';
import { BATCH_GET_MAX, batchGetKeys, batchWrite, inBatches, type TableIo } from './dynamo-batch';
import { defined, hex8, metaPk, restorePointPk, segmentSizeOf, walKey, walPk, type Item } from './dynamo-wal-keys';
import { CatalogError, ConflictError, InputError } from '../../errors';
import type { WalRetentionMark } from '../../domain/retention/types';
import type { ArchiveStatus, IndexedWalRecord, ReconcileCursor, RestorePoint, WalCatalog, WalPage, WalTimelineSummary } from '../../ports/wal-catalog';
import { catalogRequest, conditionalWrite } from './sdk-errors';
import { DynamoWalView } from './dynamo-wal-view';
import { clearRetentionMark, countSegmentsBelow, getRetentionMark, listSegmentsBelow, putRetentionMark } from './dynamo-wal-retention';
import { viewAttributes, withoutKeys } from './wal-view-keys';

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
  /** The table and how requests are sent, for the batch helpers (dynamo-batch.ts). */
  private readonly io: TableIo;

  /** `client` should omit undefined values (see `toDocumentClient`); `tableName` has the schema of schema.ts. */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoWalCatalogOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 500;
    this.io = { client, tableName, call: (action, request) => this.call(action, request) };
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
      if (await this.conditional(action, () => this.client.send(put))) {
        await this.raiseTimeline(record, indexedAt);
        await this.addToRanges([record]);
        return 'created';
      }
      const existing = await this.getWal(record.database, record.name);
      if (existing && existing.sha256 === record.sha256) {
        // A crash between the put and the summary's (or the ranges') update is repaired by the retry.
        await this.raiseTimeline(record, indexedAt);
        await this.addToRanges([existing]);
        return 'exists';
      }
      if (existing) {
        throw new ConflictError(
          `WAL file ${record.name} of database ${record.database} is already recorded with SHA-256 ${existing.sha256}; the new one has ${record.sha256}: it was not recorded`,
          'two different files under one name means two servers archive into the same archive, or a damaged file: check archive_command on every server of this database; the recorded file is kept',
        );
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
    for (const record of highest.values()) await this.raiseTimeline(record, indexedAt);
    await this.addToRanges(recorded);
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

  /** Adds recorded segments (other kinds are skipped) to their timelines' ranges, one run at a time. */
  private async addToRanges(records: readonly WalRecord[]): Promise<void> {
    const groups = new Map<string, WalRecord[]>();
    for (const record of records) {
      if (record.kind !== 'segment') continue;
      const id = `${record.database}\u0000${segmentSizeOf(record)}`;
      const group = groups.get(id);
      if (group) group.push(record);
      else groups.set(id, [record]);
    }
    for (const group of groups.values()) {
      const database = group[0]!.database;
      const size = segmentSizeOf(group[0]!);
      await this.ranges.add(database, rangesOfSegments(group, size), size);
    }
  }

  async getWal(database: string, name: string): Promise<IndexedWalRecord | undefined> {
    const { pk, sk } = walKey(database, name);
    const item = await this.getItem(`read WAL record ${name} of database ${database}`, { pk, sk });
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
    const items = await this.query(`list the WAL segments of database ${database} on timeline ${timeline}`, {
      KeyConditionExpression: ['pk = :pk', ...range].join(' AND '),
      ExpressionAttributeValues: values,
    });
    return items.map((item) => withoutKeys<IndexedWalRecord>(item));
  }

  async listHistories(database: string): Promise<IndexedWalRecord[]> {
    return this.listPartition(`list the timeline histories of database ${database}`, walPk(database, 'HISTORY'));
  }

  async listBackupLabels(database: string): Promise<IndexedWalRecord[]> {
    return this.listPartition(`list the backup labels of database ${database}`, walPk(database, 'BACKUP'));
  }

  async timelines(database: string): Promise<WalTimelineSummary[]> {
    const items = await this.query(`list the WAL timelines of database ${database}`, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :tl)',
      ExpressionAttributeValues: { ':pk': metaPk(database), ':tl': 'TL#' },
    });
    return items.map((item) => ({ timeline: Number(item.timeline), highestName: String(item.highestName), updatedAt: String(item.updatedAt) }));
  }

  async readMeta(database: string): ReturnType<WalCatalog['readMeta']> {
    const items = await this.query(`read the WAL metadata of database ${database}`, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': metaPk(database) } });
    const timelines = items.filter((item) => String(item.sk).startsWith('TL#')).map((item) => ({ timeline: Number(item.timeline), highestName: String(item.highestName), updatedAt: String(item.updatedAt) }));
    const status = items.find((item) => item.sk === 'STATUS');
    const mark = items.find((item) => item.sk === 'RETENTION');
    return { timelines, ...(status ? { archiveStatus: withoutKeys<ArchiveStatus>(status) } : {}), ...(mark ? { retentionMark: withoutKeys<unknown>(mark) } : {}) };
  }

  async putArchiveStatus(database: string, status: ArchiveStatus): Promise<boolean> {
    const put = new PutCommand({
      TableName: this.tableName,
      Item: { ...defined(status), pk: metaPk(database), sk: 'STATUS', ...viewAttributes(database, 'META', 'STATUS') },
      ConditionExpression: 'attribute_not_exists(pk) OR #measuredAt <= :measuredAt',
      ExpressionAttributeNames: { '#measuredAt': 'measuredAt' },
      ExpressionAttributeValues: { ':measuredAt': status.measuredAt },
    });
    return this.conditional(`store the archive status of database ${database}`, () => this.client.send(put));
  }

  async getArchiveStatus(database: string): Promise<ArchiveStatus | undefined> {
    const item = await this.getItem(`read the archive status of database ${database}`, { pk: metaPk(database), sk: 'STATUS' });
    return item ? withoutKeys<ArchiveStatus>(item) : undefined;
  }

  async recordRestorePoint(database: string, point: RestorePoint): Promise<'created' | 'exists'> {
    const pk = restorePointPk(database);
    if (point.name.length === 0 || Buffer.byteLength(point.name) > 63) throw new InputError('a restore point name must be 1–63 bytes', 'PostgreSQL truncates longer names: choose a shorter one');
    const stored: RestorePoint = { name: point.name, lsn: formatLsn(parseLsn(point.lsn)), timeline: point.timeline, createdAt: point.createdAt };
    const action = `record restore point "${point.name}" of database ${database}`;
    const put = new PutCommand({ TableName: this.tableName, Item: { ...stored, pk, sk: point.name, ...viewAttributes(database, 'RP', point.name) }, ConditionExpression: 'attribute_not_exists(pk)' });
    if (await this.conditional(action, () => this.client.send(put))) return 'created';
    const existing = await this.getRestorePoint(database, point.name);
    if (existing && existing.lsn === stored.lsn && existing.timeline === stored.timeline) return 'exists';
    throw new ConflictError(
      `restore point "${point.name}" of database ${database} is already recorded at ${existing?.lsn ?? 'another LSN'} on timeline ${existing?.timeline ?? '?'}, not ${stored.lsn} on ${stored.timeline}`,
      'a recovery to a name stops at its first occurrence: give each restore point a new name (the checkpoint names them by time)',
    );
  }

  async listRestorePoints(database: string): Promise<RestorePoint[]> {
    const points = await this.listPartition<RestorePoint>(`list the restore points of database ${database}`, restorePointPk(database));
    return points.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
  }

  async getRestorePoint(database: string, name: string): Promise<RestorePoint | undefined> {
    const item = await this.getItem(`read restore point "${name}" of database ${database}`, { pk: restorePointPk(database), sk: name });
    return item ? withoutKeys<RestorePoint>(item) : undefined;
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

  async deleteRestorePoint(database: string, name: string): Promise<void> {
    const pk = restorePointPk(database);
    await this.call(`delete restore point "${name}" of database ${database}`, () => this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk, sk: name } })));
  }

  async getReconcileCursor(database: string, timeline: number): Promise<ReconcileCursor | undefined> {
    const item = await this.getItem(`read the reconciliation cursor of database ${database}`, { pk: metaPk(database), sk: `RECONCILE#${hex8(timeline)}` });
    return item ? withoutKeys<ReconcileCursor>(item) : undefined;
  }

  async putReconcileCursor(database: string, cursor: ReconcileCursor): Promise<void> {
    const put = new PutCommand({ TableName: this.tableName, Item: { ...defined(cursor), pk: metaPk(database), sk: `RECONCILE#${hex8(cursor.timeline)}` } });
    await this.call(`store the reconciliation cursor of database ${database}`, () => this.client.send(put));
  }

  /** Moves the timeline's summary up to `record`, never down; a lost condition means it is already there. */
  private async raiseTimeline(record: WalRecord, at: string): Promise<void> {
    if (record.kind !== 'segment' && record.kind !== 'partial') return;
    const sk = `TL#${hex8(record.timeline)}`;
    const view = viewAttributes(record.database, 'META', sk);
    const update = new UpdateCommand({
      TableName: this.tableName,
      Key: { pk: metaPk(record.database), sk },
      // The view's attributes too: a summary written before the view joins it with its next segment.
      UpdateExpression: 'SET #timeline = :timeline, #highest = :name, #updatedAt = :at, #entity = :entity, #gsiSort = :gsiSort',
      ConditionExpression: 'attribute_not_exists(#highest) OR #highest < :name',
      ExpressionAttributeNames: { '#timeline': 'timeline', '#highest': 'highestName', '#updatedAt': 'updatedAt', '#entity': 'entity', '#gsiSort': 'gsiSort' },
      ExpressionAttributeValues: { ':timeline': record.timeline, ':name': record.name, ':at': at, ':entity': view.entity, ':gsiSort': view.gsiSort },
    });
    await this.conditional(`update the timeline summary of database ${record.database}`, () => this.client.send(update));
  }

  private async listPartition<T>(action: string, pk: string): Promise<T[]> {
    const items = await this.query(action, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } });
    return items.map((item) => withoutKeys<T>(item));
  }

  /** Pages through a partition in ascending sort-key order until it is exhausted. */
  private async query(action: string, input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'>): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const command = new QueryCommand({ TableName: this.tableName, ...input, ConsistentRead: true, Limit: this.pageSize, ...(startKey ? { ExclusiveStartKey: startKey } : {}) });
      const page = await this.call(action, () => this.client.send(command));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  private async getItem(action: string, key: { pk: string; sk: string }): Promise<Item | undefined> {
    return this.call(action, async () => (await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item);
  }

  /** Runs a conditional write: true when it happened, false when its condition was lost. */
  private conditional(action: string, write: () => Promise<unknown>): Promise<boolean> {
    return conditionalWrite(this.client, this.tableName, action, write);
  }

  private call<T>(action: string, request: () => Promise<T>): Promise<T> {
    return catalogRequest(this.client, this.tableName, action, request);
  }
}
