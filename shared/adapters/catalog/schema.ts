/**
 * The catalog table's layout: one DynamoDB table holding backup items and lock items.
 * serverless.yml (deploy/catalog.yml) must declare the same keys and indexes; local
 * mode and the tests create the table from `createTableInput`.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** The parts of a CreateTable request that define the table's shape. */
export type CatalogTableSchema = Required<Pick<CreateTableCommandInput, 'KeySchema' | 'AttributeDefinitions' | 'GlobalSecondaryIndexes' | 'BillingMode'>>;

/** Index of a database's backups, sorted by `gsiSort`. */
export const INDEX_BY_DATABASE = 'byDatabase';
/**
 * Index of every backup (all share `entity` = BACKUP), sorted by `gsiSort`; it also holds
 * the WAL view (every database's WAL metadata, restore points and ranges under `entity` =
 * `WALVIEW#<shard>`, see dynamo-wal-view.ts): a Query names one `entity`, so neither sees the other.
 */
export const INDEX_BY_ENTITY = 'byEntity';
/** Index of the backups in one state, sorted by `gsiSort`. */
export const INDEX_BY_STATE = 'byState';

/** The `entity` of a backup item; lock items have none, so they stay out of the indexes (WAL view items have their own). */
export const BACKUP_ENTITY = 'BACKUP';

/** Attributes the table adds to a BackupEntry for its keys and indexes. */
export const HELPER_ATTRIBUTES = ['pk', 'sk', 'entity', 'gsiSort'] as const;

/**
 * Keys, indexes and billing of the catalog table. Treat it as read-only: it is the
 * reference deploy/catalog.yml is compared with.
 */
export const CATALOG_TABLE_SCHEMA: CatalogTableSchema = {
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
    { AttributeName: 'database', AttributeType: 'S' },
    { AttributeName: 'entity', AttributeType: 'S' },
    { AttributeName: 'state', AttributeType: 'S' },
    { AttributeName: 'gsiSort', AttributeType: 'S' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: INDEX_BY_DATABASE,
      KeySchema: [
        { AttributeName: 'database', KeyType: 'HASH' },
        { AttributeName: 'gsiSort', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
    {
      IndexName: INDEX_BY_ENTITY,
      KeySchema: [
        { AttributeName: 'entity', KeyType: 'HASH' },
        { AttributeName: 'gsiSort', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
    {
      IndexName: INDEX_BY_STATE,
      KeySchema: [
        { AttributeName: 'state', KeyType: 'HASH' },
        { AttributeName: 'gsiSort', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
  BillingMode: 'PAY_PER_REQUEST',
};

/** A CreateTable request for the catalog under `tableName` (a fresh copy each call). */
export function createTableInput(tableName: string): CreateTableCommandInput {
  return { TableName: tableName, ...structuredClone(CATALOG_TABLE_SCHEMA) };
}

/** The key of a backup's item. */
export function backupKey(id: string): { pk: string; sk: string } {
  return { pk: `BACKUP#${id}`, sk: 'BACKUP' };
}

/** The key of a lock's item. */
export function lockKey(name: string): { pk: string; sk: string } {
  return { pk: `LOCK#${name}`, sk: 'LOCK' };
}

/**
 * The index sort key: ISO-8601 UTC times sort as strings, and the id breaks ties
 * between backups started in the same millisecond.
 */
export function gsiSortOf(startedAt: string, id: string): string {
  return `${startedAt}#${id}`;
}
