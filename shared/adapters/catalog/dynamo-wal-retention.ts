import { DeleteCommand, PutCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { WalRetentionMark } from '../../domain/retention/types';
import { ConflictError, InputError } from '../../errors';
import type { IndexedWalRecord, WalPage } from '../../ports/wal-catalog';
import type { TableIo } from './dynamo-batch';
import { hex8, metaPk, SEGMENT_NAME, walPk, type Item } from './dynamo-wal-keys';
import { conditionalWrite } from './sdk-errors';
import { getItem } from './dynamo-wal-meta';
import { viewAttributes, withoutKeys } from './wal-view-keys';

/**
 * Retention's side of the WAL catalog (DynamoWalCatalog delegates to these): the segments
 * below a cut-off, page by page or counted, and the mark of a WAL deletion not finished.
 */

/** A page of the segments and partials of `timeline` below `belowName` (WalCatalog.listSegmentsBelow). */
export async function listSegmentsBelow(io: TableIo, pageSize: number, database: string, timeline: number, belowName: string, options: { after?: string; limit?: number } = {}): Promise<WalPage> {
  const input = belowQuery(database, timeline, belowName);
  const limit = options.limit ?? pageSize;
  if (!Number.isInteger(limit) || limit < 1) throw new InputError(`page size ${limit} is not a whole number above 0`, 'give a limit of at least 1');
  const pk = (input.ExpressionAttributeValues as Item)[':pk'];
  const command = new QueryCommand({
    TableName: io.tableName,
    ...input,
    ConsistentRead: true,
    Limit: limit,
    ...(options.after !== undefined ? { ExclusiveStartKey: { pk, sk: options.after } } : {}),
  });
  const page = await io.call(`list the WAL segments of database ${database} below ${belowName}`, () => io.client.send(command));
  const records = (page.Items ?? []).map((item) => withoutKeys<IndexedWalRecord>(item));
  const last = page.LastEvaluatedKey?.sk;
  return { records, ...(typeof last === 'string' ? { next: last } : {}) };
}

/** How many segments and partials of `timeline` lie below `belowName`, counted by DynamoDB (WalCatalog.countSegmentsBelow). */
export async function countSegmentsBelow(io: TableIo, database: string, timeline: number, belowName: string): Promise<number> {
  const input = belowQuery(database, timeline, belowName);
  let count = 0;
  let startKey: Item | undefined;
  do {
    const command = new QueryCommand({ TableName: io.tableName, ...input, Select: 'COUNT', ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) });
    const page = await io.call(`count the WAL segments of database ${database} below ${belowName}`, () => io.client.send(command));
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}

/** The WAL deletion retention has not finished for `database`, if any. */
export async function getRetentionMark(io: TableIo, database: string): Promise<unknown> {
  const item = await getItem(io, `read the WAL retention mark of database ${database}`, { pk: metaPk(database), sk: 'RETENTION' });
  return item ? withoutKeys<unknown>(item) : undefined;
}

/** Stores a retention mark, never over a newer one (ConflictError). */
export async function putRetentionMark(io: TableIo, database: string, mark: WalRetentionMark): Promise<void> {
  const put = new PutCommand({
    TableName: io.tableName,
    Item: { ...mark, pk: metaPk(database), sk: 'RETENTION', ...viewAttributes(database, 'META', 'RETENTION') },
    ConditionExpression: 'attribute_not_exists(pk) OR #at <= :at',
    ExpressionAttributeNames: { '#at': 'at' },
    ExpressionAttributeValues: { ':at': mark.at },
  });
  if (!(await conditionalWrite(io.client, io.tableName, `store the WAL retention mark of database ${database}`, () => io.client.send(put)))) {
    throw new ConflictError(`a newer WAL retention mark of database ${database} is stored than the one of ${mark.at}`, 'another retention run is working on this database: let it finish, then run again');
  }
}

/** Removes the retention mark of `at` (not a newer one). */
export async function clearRetentionMark(io: TableIo, database: string, at: string): Promise<void> {
  const remove = new DeleteCommand({
    TableName: io.tableName,
    Key: { pk: metaPk(database), sk: 'RETENTION' },
    ConditionExpression: 'attribute_not_exists(pk) OR #at = :at',
    ExpressionAttributeNames: { '#at': 'at' },
    ExpressionAttributeValues: { ':at': at },
  });
  await conditionalWrite(io.client, io.tableName, `remove the WAL retention mark of database ${database}`, () => io.client.send(remove));
}

/** The key condition of "segments of `timeline` below `belowName`". */
function belowQuery(database: string, timeline: number, belowName: string): Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'> {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffff_ffff) throw new InputError(`${timeline} is not a timeline`, 'timelines are whole numbers from 1');
  if (!SEGMENT_NAME.test(belowName) || !belowName.startsWith(hex8(timeline))) {
    throw new InputError(`${JSON.stringify(belowName)} is not a segment name on timeline ${timeline}`, 'give the 24-hex name of the first segment to keep');
  }
  return { KeyConditionExpression: 'pk = :pk AND sk < :below', ExpressionAttributeValues: { ':pk': walPk(database, hex8(timeline)), ':below': belowName } };
}
