export type { Catalog, ListOptions, LockHolder } from '../../ports/catalog';
export { makeDynamoClient, makeDynamoDocumentClient, toDocumentClient } from './client';
export type { DynamoClientOptions } from './client';
export { DynamoCatalog } from './dynamo';
export type { DynamoCatalogOptions } from './dynamo';
export { CATALOG_TABLE_SCHEMA, createTableInput, INDEX_BY_DATABASE, INDEX_BY_ENTITY, INDEX_BY_STATE } from './schema';
export type { CatalogTableSchema } from './schema';
export { toCatalogError } from './sdk-errors';
