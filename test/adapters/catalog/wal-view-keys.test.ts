/**
 * The WAL view's index attributes (wal-view-keys.ts): a database's items always land in
 * the same shard, 200 databases spread over every shard, the marker sorts before every
 * database's items, and what the catalog returns never carries the view's attributes.
 */
import { describe, expect, it } from 'vitest';
import { MARKER_SORT, rangeViewAttributes, VIEW_SHARDS, viewAttributes, viewShard, withoutKeys } from '../../../shared/adapters/catalog/wal-view-keys';

describe('the WAL view\'s keys', () => {
  it('puts every item of a database in one shard, and 200 databases in every shard', () => {
    const names = Array.from({ length: 200 }, (_, index) => `customer_db_${String(index).padStart(3, '0')}`);
    const counts = new Array<number>(VIEW_SHARDS).fill(0);
    for (const name of names) counts[viewShard(name)]! += 1;
    expect(counts.every((count) => count >= 10)).toBe(true);
    expect(viewAttributes('app', 'META', 'STATUS').entity).toBe(rangeViewAttributes('app', 2, '0000000000000001').entity);
    expect(viewAttributes('app', 'RP', 'p')).toEqual({ entity: `WALVIEW#${viewShard('app')}`, gsiSort: 'app#RP#p' });
    expect(rangeViewAttributes('app', 2, '0000000000000001').gsiSort).toBe('app#RANGE#00000002#0000000000000001');
  });

  it('sorts the marker before every database a name may give, and refuses a name that is not one', () => {
    for (const name of ['0', 'A', '_', 'a', 'app.v2', 'z-9']) expect(MARKER_SORT < viewAttributes(name, 'META', 'TL#00000001').gsiSort).toBe(true);
    expect(() => viewAttributes('a#b', 'META', 'STATUS')).toThrow(/not allowed/);
  });

  it('returns items without their keys and view attributes', () => {
    expect(withoutKeys({ pk: 'WALMETA#app', sk: 'STATUS', entity: 'WALVIEW#1', gsiSort: 'app#META#STATUS', measuredAt: 'x' })).toEqual({ measuredAt: 'x' });
  });
});
