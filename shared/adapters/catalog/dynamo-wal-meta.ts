import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { formatLsn, parseLsn } from '../../domain/wal/names';
import type { WalRecord } from '../../domain/wal/record';
import { ConflictError, InputError } from '../../errors';
import type { ArchiveStatus, ReconcileCursor, RestorePoint, WalCatalog, WalTimelineSummary } from '../../ports/wal-catalog';
import type { TableIo } from './dynamo-batch';
import { defined, hex8, metaPk, restorePointPk, type Item } from './dynamo-wal-keys';
import { conditionalWrite } from './sdk-errors';
import { viewAttributes, withoutKeys } from './wal-view-keys';

/**
 * The WAL catalog's small items, beside the records (dynamo-wal.ts): a database's metadata
 * partition (timeline summaries, archive status, reconciliation cursors) and its restore
 * points. Functions over the table, as dynamo-wal-retention.ts; they throw what the
 * catalog throws (ConflictError, CatalogError, InputError, BAD_LSN).
 */

/** The table, its request wrapper, and how many items a Query page holds. */
export interface PagedIo extends TableIo {
  pageSize: number;
}

/** Pages through a partition (or a key range of it) in ascending sort-key order until it is exhausted. */
export async function queryAll(io: PagedIo, action: string, input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'>): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const command = new QueryCommand({ TableName: io.tableName, ...input, ConsistentRead: true, Limit: io.pageSize, ...(startKey ? { ExclusiveStartKey: startKey } : {}) });
    const page = await io.call(action, () => io.client.send(command));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Every item of partition `pk`, its keys left out. */
export async function listPartition<T>(io: PagedIo, action: string, pk: string): Promise<T[]> {
  const items = await queryAll(io, action, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } });
  return items.map((item) => withoutKeys<T>(item));
}

/** One item by its key, read consistently. */
export async function getItem(io: TableIo, action: string, key: { pk: string; sk: string }): Promise<Item | undefined> {
  return io.call(action, async () => (await io.client.send(new GetCommand({ TableName: io.tableName, Key: key, ConsistentRead: true }))).Item);
}

/** Runs a conditional write: true when it happened, false when its condition was lost. */
export function conditional(io: TableIo, action: string, write: () => Promise<unknown>): Promise<boolean> {
  return conditionalWrite(io.client, io.tableName, action, write);
}

const summaryOf = (item: Item): WalTimelineSummary => ({ timeline: Number(item.timeline), highestName: String(item.highestName), updatedAt: String(item.updatedAt) });

export async function timelines(io: PagedIo, database: string): Promise<WalTimelineSummary[]> {
  const items = await queryAll(io, `list the WAL timelines of database ${database}`, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :tl)',
    ExpressionAttributeValues: { ':pk': metaPk(database), ':tl': 'TL#' },
  });
  return items.map(summaryOf);
}

export async function readMeta(io: PagedIo, database: string): ReturnType<WalCatalog['readMeta']> {
  const items = await queryAll(io, `read the WAL metadata of database ${database}`, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': metaPk(database) } });
  const status = items.find((item) => item.sk === 'STATUS');
  const mark = items.find((item) => item.sk === 'RETENTION');
  return {
    timelines: items.filter((item) => String(item.sk).startsWith('TL#')).map(summaryOf),
    ...(status ? { archiveStatus: withoutKeys<ArchiveStatus>(status) } : {}),
    ...(mark ? { retentionMark: withoutKeys<unknown>(mark) } : {}),
  };
}

/** Moves the timeline's summary up to `record`, never down; a lost condition means it is already there. */
export async function raiseTimeline(io: TableIo, record: WalRecord, at: string): Promise<void> {
  if (record.kind !== 'segment' && record.kind !== 'partial') return;
  const sk = `TL#${hex8(record.timeline)}`;
  const view = viewAttributes(record.database, 'META', sk);
  const update = new UpdateCommand({
    TableName: io.tableName,
    Key: { pk: metaPk(record.database), sk },
    // The view's attributes too: a summary written before the view joins it with its next segment.
    UpdateExpression: 'SET #timeline = :timeline, #highest = :name, #updatedAt = :at, #entity = :entity, #gsiSort = :gsiSort',
    ConditionExpression: 'attribute_not_exists(#highest) OR #highest < :name',
    ExpressionAttributeNames: { '#timeline': 'timeline', '#highest': 'highestName', '#updatedAt': 'updatedAt', '#entity': 'entity', '#gsiSort': 'gsiSort' },
    ExpressionAttributeValues: { ':timeline': record.timeline, ':name': record.name, ':at': at, ':entity': view.entity, ':gsiSort': view.gsiSort },
  });
  await conditional(io, `update the timeline summary of database ${record.database}`, () => io.client.send(update));
}

export async function putArchiveStatus(io: TableIo, database: string, status: ArchiveStatus): Promise<boolean> {
  const put = new PutCommand({
    TableName: io.tableName,
    Item: { ...defined(status), pk: metaPk(database), sk: 'STATUS', ...viewAttributes(database, 'META', 'STATUS') },
    ConditionExpression: 'attribute_not_exists(pk) OR #measuredAt <= :measuredAt',
    ExpressionAttributeNames: { '#measuredAt': 'measuredAt' },
    ExpressionAttributeValues: { ':measuredAt': status.measuredAt },
  });
  return conditional(io, `store the archive status of database ${database}`, () => io.client.send(put));
}

export async function getArchiveStatus(io: TableIo, database: string): Promise<ArchiveStatus | undefined> {
  const item = await getItem(io, `read the archive status of database ${database}`, { pk: metaPk(database), sk: 'STATUS' });
  return item ? withoutKeys<ArchiveStatus>(item) : undefined;
}

export async function getReconcileCursor(io: TableIo, database: string, timeline: number): Promise<ReconcileCursor | undefined> {
  const item = await getItem(io, `read the reconciliation cursor of database ${database}`, { pk: metaPk(database), sk: `RECONCILE#${hex8(timeline)}` });
  return item ? withoutKeys<ReconcileCursor>(item) : undefined;
}

export async function putReconcileCursor(io: TableIo, database: string, cursor: ReconcileCursor): Promise<void> {
  const put = new PutCommand({ TableName: io.tableName, Item: { ...defined(cursor), pk: metaPk(database), sk: `RECONCILE#${hex8(cursor.timeline)}` } });
  await io.call(`store the reconciliation cursor of database ${database}`, () => io.client.send(put));
}

export async function recordRestorePoint(io: TableIo, database: string, point: RestorePoint): Promise<'created' | 'exists'> {
  const pk = restorePointPk(database);
  if (point.name.length === 0 || Buffer.byteLength(point.name) > 63) throw new InputError('a restore point name must be 1–63 bytes', 'PostgreSQL truncates longer names: choose a shorter one');
  const stored: RestorePoint = { name: point.name, lsn: formatLsn(parseLsn(point.lsn)), timeline: point.timeline, createdAt: point.createdAt };
  const action = `record restore point "${point.name}" of database ${database}`;
  const put = new PutCommand({ TableName: io.tableName, Item: { ...stored, pk, sk: point.name, ...viewAttributes(database, 'RP', point.name) }, ConditionExpression: 'attribute_not_exists(pk)' });
  if (await conditional(io, action, () => io.client.send(put))) return 'created';
  const existing = await getRestorePoint(io, database, point.name);
  if (existing && existing.lsn === stored.lsn && existing.timeline === stored.timeline) return 'exists';
  throw new ConflictError(
    `restore point "${point.name}" of database ${database} is already recorded at ${existing?.lsn ?? 'another LSN'} on timeline ${existing?.timeline ?? '?'}, not ${stored.lsn} on ${stored.timeline}`,
    'a recovery to a name stops at its first occurrence: give each restore point a new name (the checkpoint names them by time)',
  );
}

export async function listRestorePoints(io: PagedIo, database: string): Promise<RestorePoint[]> {
  const points = await listPartition<RestorePoint>(io, `list the restore points of database ${database}`, restorePointPk(database));
  return points.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}

export async function getRestorePoint(io: TableIo, database: string, name: string): Promise<RestorePoint | undefined> {
  const item = await getItem(io, `read restore point "${name}" of database ${database}`, { pk: restorePointPk(database), sk: name });
  return item ? withoutKeys<RestorePoint>(item) : undefined;
}

export async function deleteRestorePoint(io: TableIo, database: string, name: string): Promise<void> {
  await io.call(`delete restore point "${name}" of database ${database}`, () => io.client.send(new DeleteCommand({ TableName: io.tableName, Key: { pk: restorePointPk(database), sk: name } })));
}
