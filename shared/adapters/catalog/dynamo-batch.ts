import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CatalogError } from '../../errors';
import type { Item } from './dynamo-wal-keys';

/** DynamoDB's limit of requests in one BatchWriteItem. */
export const BATCH_WRITE_MAX = 25;
/** DynamoDB's limit of keys in one BatchGetItem. */
export const BATCH_GET_MAX = 100;
/** Unprocessed items of a batch are retried this often (with a pause that doubles from 50 ms) before giving up. */
const BATCH_ATTEMPTS = 8;

/** One table, and how a request is sent (its errors mapped to Strongbox's: sdk-errors.ts). */
export interface TableIo {
  client: DynamoDBDocumentClient;
  tableName: string;
  call<T>(action: string, request: () => Promise<T>): Promise<T>;
}

type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

const pause = (attempt: number) => new Promise((done) => setTimeout(done, 50 * 2 ** (attempt - 2)));

/**
 * The items at these keys (at most BATCH_GET_MAX), by `pk\0sk`, read consistently;
 * unprocessed keys are asked again. Throws CatalogError (with `hint`) when they stay unprocessed.
 */
export async function batchGetKeys(io: TableIo, keys: ReadonlyArray<{ pk: string; sk: string }>, hint: string): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  let pending: Item[] = [...keys];
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    if (attempt > BATCH_ATTEMPTS) throw new CatalogError(`cannot read ${pending.length} WAL record(s): DynamoDB kept them unprocessed`, hint);
    if (attempt > 1) await pause(attempt);
    const batch = new BatchGetCommand({ RequestItems: { [io.tableName]: { Keys: pending, ConsistentRead: true } } });
    const out = await io.call('read WAL records', () => io.client.send(batch));
    for (const item of out.Responses?.[io.tableName] ?? []) found.set(`${String(item.pk)}\u0000${String(item.sk)}`, item);
    pending = (out.UnprocessedKeys?.[io.tableName]?.Keys ?? []) as Item[];
  }
  return found;
}

/**
 * Sends one BatchWriteItem of at most BATCH_WRITE_MAX requests, asking again for the
 * unprocessed ones. Throws CatalogError (with `hint`) when they stay unprocessed.
 */
export async function batchWrite(io: TableIo, first: readonly WriteRequest[], action: string, hint: string): Promise<void> {
  let requests = [...first];
  for (let attempt = 1; requests.length > 0; attempt += 1) {
    if (attempt > BATCH_ATTEMPTS) throw new CatalogError(`cannot ${action}: DynamoDB kept ${requests.length} request(s) unprocessed`, hint);
    if (attempt > 1) await pause(attempt);
    const batch = new BatchWriteCommand({ RequestItems: { [io.tableName]: requests } });
    const out = await io.call(action, () => io.client.send(batch));
    requests = (out.UnprocessedItems?.[io.tableName] ?? []) as WriteRequest[];
  }
}

/** The requests in slices of BATCH_WRITE_MAX. */
export function inBatches<T>(requests: readonly T[]): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < requests.length; start += BATCH_WRITE_MAX) batches.push(requests.slice(start, start + BATCH_WRITE_MAX));
  return batches;
}
