import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { statesBefore } from '../../domain/backup';
import type { BackupEntry, BackupState } from '../../domain/backup';
import { BackupNotFoundError, ConflictError } from '../../errors';
import type { Catalog, ListOptions, LockHolder } from '../../ports/catalog';
import { BACKUP_ENTITY, backupKey, gsiSortOf, HELPER_ATTRIBUTES, INDEX_BY_DATABASE, INDEX_BY_ENTITY, INDEX_BY_STATE, lockKey } from './schema';
import { catalogRequest, conditionalWrite } from './sdk-errors';

/** Tuning of DynamoCatalog. */
export interface DynamoCatalogOptions {
  /** Items per Query page (DynamoDB's `Limit`); small values exercise paging in tests. */
  pageSize?: number;
}

type Item = Record<string, unknown>;

/**
 * Attributes a change may never set: the key, the index helpers, the id, the state, and
 * the retention mark (only markDeleting writes it, conditionally).
 */
const PROTECTED = new Set<string>([...HELPER_ATTRIBUTES, 'id', 'state', 'deleting']);

/** A backup entry as a catalog item: the entry's attributes plus its key and index helpers. */
function toItem(entry: BackupEntry): Item {
  return { ...entry, ...backupKey(entry.id), entity: BACKUP_ENTITY, gsiSort: gsiSortOf(entry.startedAt, entry.id) };
}

function toEntry(item: Item): BackupEntry {
  // A rest copy, not `delete`: deleting properties turns each of thousands of entries into a slower, larger dictionary object.
  const { pk: _pk, sk: _sk, entity: _entity, gsiSort: _gsiSort, ...entry } = item;
  return entry as unknown as BackupEntry;
}

/**
 * `SET #a0 = :a0, …` over the defined values of `changes`, with its names and values.
 * Keeps `gsiSort` in step when the start time changes.
 */
function setExpression(id: string, changes: Item): { sets: string[]; names: Record<string, string>; values: Item } {
  const sets: string[] = [];
  const names: Record<string, string> = {};
  const values: Item = {};
  const defined = Object.entries(changes).filter(([name, value]) => value !== undefined && !PROTECTED.has(name));
  if (typeof changes.startedAt === 'string') defined.push(['gsiSort', gsiSortOf(changes.startedAt, id)]);
  defined.forEach(([name, value], index) => {
    sets.push(`#a${index} = :a${index}`);
    names[`#a${index}`] = name;
    values[`:a${index}`] = value;
  });
  return { sets, names, values };
}

/**
 * The catalog over one DynamoDB table (see schema.ts for its layout). Every write that
 * depends on the current state is conditional; lists are Queries on the indexes.
 * Throws only Strongbox errors: BackupNotFoundError, ConflictError, CatalogError.
 */
export class DynamoCatalog implements Catalog {
  private readonly pageSize: number;

  /** `client` should omit undefined values (see `toDocumentClient`); `tableName` has the schema of schema.ts. */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoCatalogOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 100;
  }

  async create(entry: BackupEntry): Promise<boolean> {
    const put = new PutCommand({ TableName: this.tableName, Item: toItem(entry), ConditionExpression: 'attribute_not_exists(pk)' });
    return this.conditional(`create backup ${entry.id}`, () => this.client.send(put));
  }

  async get(id: string): Promise<BackupEntry | undefined> {
    const item = await this.call(`read backup ${id}`, async () => {
      const output = await this.client.send(new GetCommand({ TableName: this.tableName, Key: backupKey(id), ConsistentRead: true }));
      return output.Item;
    });
    return item ? toEntry(item) : undefined;
  }

  async transition(id: string, to: BackupState, changes: Partial<Omit<BackupEntry, 'id' | 'state'>> = {}, options: { from?: readonly BackupState[] } = {}): Promise<BackupEntry> {
    const from = statesBefore(to).filter((state) => options.from === undefined || options.from.includes(state));
    if (from.length === 0) throw await this.explainLostTransition(id, to);
    const { sets, names, values } = setExpression(id, changes);
    const update = new UpdateCommand({
      TableName: this.tableName,
      Key: backupKey(id),
      UpdateExpression: `SET ${['#state = :to', ...sets].join(', ')}`,
      ConditionExpression: `attribute_exists(pk) AND #state IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
      ExpressionAttributeNames: { '#state': 'state', ...names },
      ExpressionAttributeValues: { ':to': to, ...values, ...Object.fromEntries(from.map((state, i) => [`:from${i}`, state])) },
      ReturnValues: 'ALL_NEW',
    });
    let attributes: Item | undefined;
    const won = await this.conditional(`move backup ${id} to ${to}`, async () => {
      attributes = (await this.client.send(update)).Attributes;
    });
    if (!won || !attributes) throw await this.explainLostTransition(id, to);
    return toEntry(attributes);
  }

  async update(id: string, changes: Partial<Omit<BackupEntry, 'id' | 'state' | 'database' | 'startedAt'>>): Promise<BackupEntry> {
    const { sets, names, values } = setExpression(id, changes);
    if (sets.length === 0) {
      const current = await this.get(id);
      if (!current) throw new BackupNotFoundError(id);
      return current;
    }
    const update = new UpdateCommand({
      TableName: this.tableName,
      Key: backupKey(id),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    });
    let attributes: Item | undefined;
    const found = await this.conditional(`update backup ${id}`, async () => {
      attributes = (await this.client.send(update)).Attributes;
    });
    if (!found || !attributes) throw new BackupNotFoundError(id);
    return toEntry(attributes);
  }

  async heartbeat(id: string, at: string): Promise<boolean> {
    const update = new UpdateCommand({
      TableName: this.tableName,
      Key: backupKey(id),
      UpdateExpression: 'SET #heartbeatAt = :at',
      ConditionExpression: '#state = :running',
      ExpressionAttributeNames: { '#heartbeatAt': 'heartbeatAt', '#state': 'state' },
      ExpressionAttributeValues: { ':at': at, ':running': 'RUNNING' },
    });
    return this.conditional(`record a heartbeat of backup ${id}`, () => this.client.send(update));
  }

  async listByDatabase(database: string, options: ListOptions = {}): Promise<BackupEntry[]> {
    return this.query(`list the backups of database ${database}`, INDEX_BY_DATABASE, 'database', database, options);
  }

  async listAll(options: ListOptions = {}): Promise<BackupEntry[]> {
    return this.query('list the backups', INDEX_BY_ENTITY, 'entity', BACKUP_ENTITY, options);
  }

  async listByState(state: BackupState): Promise<BackupEntry[]> {
    return this.query(`list the ${state} backups`, INDEX_BY_STATE, 'state', state, {});
  }

  async markDeleting(id: string, expectedState: BackupState, mark: { at: string; rule: string }): Promise<BackupEntry> {
    const update = new UpdateCommand({
      TableName: this.tableName,
      Key: backupKey(id),
      UpdateExpression: 'SET #deleting = :mark',
      ConditionExpression: 'attribute_exists(pk) AND #state = :expected AND attribute_not_exists(#deleting)',
      ExpressionAttributeNames: { '#deleting': 'deleting', '#state': 'state' },
      ExpressionAttributeValues: { ':mark': { at: mark.at, rule: mark.rule }, ':expected': expectedState },
      ReturnValues: 'ALL_NEW',
    });
    let attributes: Item | undefined;
    const won = await this.conditional(`mark backup ${id} for deletion`, async () => {
      attributes = (await this.client.send(update)).Attributes;
    });
    if (won && attributes) return toEntry(attributes);
    const current = await this.get(id);
    if (!current) throw new BackupNotFoundError(id);
    // Another run (or this one, before a crash) marked it first: the decision stands.
    if (current.deleting) return current;
    throw new ConflictError(
      `backup ${id} is ${current.state}, not ${expectedState} as the retention plan saw: it was not marked for deletion`,
      'the entry changed since the plan; run retention again to plan from its current state',
    );
  }

  async remove(id: string): Promise<boolean> {
    const del = new DeleteCommand({
      TableName: this.tableName,
      Key: backupKey(id),
      ConditionExpression: 'attribute_exists(#deleting)',
      ExpressionAttributeNames: { '#deleting': 'deleting' },
    });
    if (await this.conditional(`remove backup ${id}`, () => this.client.send(del))) return true;
    // The condition fails both on a missing item and on an unmarked one: tell them apart.
    const current = await this.get(id);
    if (!current) return false;
    throw new ConflictError(
      `backup ${id} is not marked for deletion: its catalog entry was kept`,
      'retention marks an entry (markDeleting) before deleting its objects and removing it; mark it first',
    );
  }

  async getLock(name: string): Promise<LockHolder | undefined> {
    const item = await this.call(`read lock ${name}`, async () => {
      const output = await this.client.send(new GetCommand({ TableName: this.tableName, Key: lockKey(name), ConsistentRead: true }));
      return output.Item;
    });
    if (!item) return undefined;
    return { name, owner: String(item.owner), acquiredAt: String(item.acquiredAt) };
  }

  async acquireLock(name: string, owner: string, at: string, replacing?: string): Promise<boolean> {
    const put = new PutCommand({
      TableName: this.tableName,
      Item: { ...lockKey(name), owner, acquiredAt: at },
      ...(replacing === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: 'attribute_not_exists(pk) OR #owner = :replacing', ExpressionAttributeNames: { '#owner': 'owner' }, ExpressionAttributeValues: { ':replacing': replacing } }),
    });
    return this.conditional(`take lock ${name}`, () => this.client.send(put));
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    const del = new DeleteCommand({
      TableName: this.tableName,
      Key: lockKey(name),
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': owner },
    });
    // Lost condition: someone else holds it (or nobody does), which is what "release" wants anyway.
    await this.conditional(`release lock ${name}`, () => this.client.send(del));
  }

  /** Pages through an index newest first until it is exhausted or `limit` entries are kept. */
  private async query(action: string, indexName: string, hashName: string, hashValue: string, options: ListOptions): Promise<BackupEntry[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const entries: BackupEntry[] = [];
    if (limit <= 0) return entries;
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: indexName,
      KeyConditionExpression: '#hash = :hash',
      ExpressionAttributeNames: { '#hash': hashName, ...(options.kind ? { '#kind': 'kind' } : {}) },
      ExpressionAttributeValues: { ':hash': hashValue, ...(options.kind ? { ':kind': options.kind } : {}) },
      ...(options.kind ? { FilterExpression: '#kind = :kind' } : {}),
      ScanIndexForward: false,
      Limit: options.pageSize ?? this.pageSize,
    };
    let startKey: Item | undefined;
    do {
      const page = await this.call(action, () => this.client.send(new QueryCommand({ ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) })));
      for (const item of page.Items ?? []) entries.push(toEntry(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey && entries.length < limit);
    return entries.slice(0, limit);
  }

  /** Why a transition did not happen: the entry is missing, or its state forbids the move. */
  private async explainLostTransition(id: string, to: BackupState): Promise<BackupNotFoundError | ConflictError> {
    const current = await this.get(id);
    if (!current) return new BackupNotFoundError(id);
    return new ConflictError(
      `backup ${id} is ${current.state}: it cannot become ${to}`,
      'another writer changed it first, or the move is not allowed; read it again (`strongbox list`) and act on its current state',
    );
  }

  /** Runs a conditional write: true when it happened, false when its condition was lost. */
  private conditional(action: string, write: () => Promise<unknown>): Promise<boolean> {
    return conditionalWrite(this.client, this.tableName, action, write);
  }

  private call<T>(action: string, request: () => Promise<T>): Promise<T> {
    return catalogRequest(this.client, this.tableName, action, request);
  }
}
