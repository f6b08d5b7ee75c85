import { assertDatabaseName } from '../../domain/keys';

/** The index attributes of the catalog's WAL view (see dynamo-wal-view.ts for the layout). */
export const VIEW_SHARDS = 8;
export const VIEW_PREFIX = 'WALVIEW#';
/** The key of the marker item that says the view is complete. */
export const VIEW_MARKER_KEY = { pk: 'CATALOG#LAYOUT', sk: 'WALVIEW' } as const;
export const MARKER_SORT = '#LAYOUT';
/** The layout the marker names (a reader knows the shards it was written with). */
export const VIEW_VERSION = 1;

type Item = Record<string, unknown>;

function hex8(timeline: number): string {
  return timeline.toString(16).toUpperCase().padStart(8, '0');
}

/** The shard of a database's view items (FNV-1a over its name's UTF-16 units). */
export function viewShard(database: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < database.length; index += 1) {
    hash ^= database.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % VIEW_SHARDS;
}

/** The index attributes of a database's view item: `group` is META, RP or RANGE#<TTTTTTTT>; `key` its table sort key. */
export function viewAttributes(database: string, group: string, key: string): { entity: string; gsiSort: string } {
  assertDatabaseName(database);
  return { entity: `${VIEW_PREFIX}${viewShard(database)}`, gsiSort: `${database}#${group}#${key}` };
}

/** The view attributes of a range item of `database` on `timeline` whose sort key is `sk`. */
export function rangeViewAttributes(database: string, timeline: number, sk: string): { entity: string; gsiSort: string } {
  return viewAttributes(database, `RANGE#${hex8(timeline)}`, sk);
}

/** An item without its table keys and view attributes: what the catalog returns of it. */
export function withoutKeys<T>(item: Item): T {
  const { pk: _pk, sk: _sk, entity: _entity, gsiSort: _gsiSort, ...rest } = item;
  return rest as T;
}

