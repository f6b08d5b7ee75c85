import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { inPool } from '../../domain/in-pool';
import { assertDatabaseName } from '../../domain/keys';
import { normalizeRanges, type WalRange } from '../../domain/wal/ranges';
import type { ArchiveStatus, RestorePoint, WalTimelineSummary } from '../../ports/wal-catalog';
import type { WalDatabaseMeta, WalViewCatalog, WalViewsRead } from '../../ports/wal-view';
import { rangePk, toRange } from './dynamo-wal-ranges';
import { INDEX_BY_ENTITY } from './schema';
import { catalogRequest, conditionalWrite } from './sdk-errors';
import { MARKER_SORT, rangeViewAttributes, VIEW_MARKER_KEY, VIEW_PREFIX, VIEW_SHARDS, VIEW_VERSION, viewAttributes, viewShard, withoutKeys } from './wal-view-keys';

/**
 * The WAL view (ports/wal-view.ts) on the catalog table: the items status and the
 * retention plan read of every database carry the backups' index attributes, `entity` =
 * `WALVIEW#<shard>` and `gsiSort` = `<database>#<group>#<key>`, so they are also in the
 * `byEntity` index (under other hash keys than the backups' `BACKUP`: listing backups never
 * returns them). No new index: the table's shape, its IAM and local catalogs made before
 * stay as they are.
 *
 * | item (table key)                        | gsiSort                              |
 * |-----------------------------------------|--------------------------------------|
 * | `WALMETA#<db>` / `TL#<TTTTTTTT>`        | `<db>#META#TL#<TTTTTTTT>`            |
 * | `WALMETA#<db>` / `STATUS`, `RETENTION`  | `<db>#META#STATUS`, `<db>#META#RETENTION` |
 * | `WALRP#<db>` / point name               | `<db>#RP#<name>`                     |
 * | `WALRANGE#<db>#<TTTTTTTT>` / tail       | `<db>#RANGE#<TTTTTTTT>#<tail>`       |
 * | `CATALOG#LAYOUT` / `WALVIEW` (marker)   | `#LAYOUT` in shard 0 (sorts first)   |
 *
 * Shards: a database's items are all in shard `fnv1a(name) % VIEW_SHARDS`. Its range and
 * timeline items change with every archived segment, and an index's hash key takes ~1,000
 * writes a second: 8 hash keys spread 200 databases' writes (at 10 segments a second each,
 * 2 index writes a segment: 4,000 a second) below that. Reading every database is 8 paged
 * Queries in parallel. Database names cannot contain `#` and start with a letter, digit or
 * `_`, so the marker sorts before every database and databases never mix.
 *
 * The marker says every item of the table is in the view (all items written before the
 * view existed were backfilled; a new table has none): without it readers read database
 * by database, as before the view.
 */

/** Index items per Query page (a page also stops at 1 MB). */
const VIEW_PAGE = 1000;
/** Items updated at once by a backfill. */
const BACKFILL_CONCURRENCY = 8;

type Item = Record<string, unknown>;

/** The meta of one database while its items arrive. */
interface Gathering {
  timelines: WalTimelineSummary[];
  archiveStatus?: ArchiveStatus;
  retentionMark?: unknown;
  restorePoints: RestorePoint[];
  ranges: Map<number, WalRange[]>;
}

function emptyGathering(): Gathering {
  return { timelines: [], restorePoints: [], ranges: new Map() };
}

/** Adds one view item to its database's meta. Items of a kind it does not know are ignored. */
function gather(into: Gathering, item: Item): void {
  const pk = String(item.pk);
  const sk = String(item.sk);
  if (pk.startsWith('WALMETA#')) {
    if (sk.startsWith('TL#')) into.timelines.push({ timeline: Number(item.timeline), highestName: String(item.highestName), updatedAt: String(item.updatedAt) });
    else if (sk === 'STATUS') into.archiveStatus = withoutKeys<ArchiveStatus>(item);
    else if (sk === 'RETENTION') into.retentionMark = withoutKeys<unknown>(item);
  } else if (pk.startsWith('WALRP#')) {
    into.restorePoints.push(withoutKeys<RestorePoint>(item));
  } else if (pk.startsWith('WALRANGE#')) {
    const range = toRange(item);
    const list = into.ranges.get(range.timeline);
    if (list) list.push(range);
    else into.ranges.set(range.timeline, [range]);
  }
}

function finish(database: string, gathered: Gathering): WalDatabaseMeta {
  const ranges = new Map<number, WalRange[]>();
  for (const [timeline, list] of gathered.ranges) ranges.set(timeline, normalizeRanges(list));
  return {
    database,
    timelines: gathered.timelines.sort((a, b) => a.timeline - b.timeline),
    ...(gathered.archiveStatus ? { archiveStatus: gathered.archiveStatus } : {}),
    ...(gathered.retentionMark !== undefined ? { retentionMark: gathered.retentionMark } : {}),
    restorePoints: gathered.restorePoints.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name)),
    ranges,
  };
}

/** The WAL view over the catalog table; throws only CatalogError (and InputError for a bad database name). */
export class DynamoWalView implements WalViewCatalog {
  private readonly pageSize: number;

  /** `pageSize`: items per Query page (default 1,000; small values exercise paging in tests). */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    pageSize?: number,
  ) {
    this.pageSize = pageSize ?? VIEW_PAGE;
  }

  async readViews(databases?: ReadonlySet<string>): Promise<WalViewsRead> {
    const gathering = new Map<string, Gathering>();
    for (const database of databases ?? []) gathering.set(database, emptyGathering());
    // Only the shards of the databases asked for, and shard 0 (it holds the marker).
    const shards = databases ? [...new Set([0, ...[...databases].map(viewShard)])] : Array.from({ length: VIEW_SHARDS }, (_, shard) => shard);
    const counts = { requests: 0, items: 0 };
    let complete = false;
    await Promise.all(shards.map(async (shard) => {
      let startKey: Item | undefined;
      do {
        const command = new QueryCommand({
          TableName: this.tableName,
          IndexName: INDEX_BY_ENTITY,
          KeyConditionExpression: '#entity = :entity',
          ExpressionAttributeNames: { '#entity': 'entity' },
          ExpressionAttributeValues: { ':entity': `${VIEW_PREFIX}${shard}` },
          Limit: this.pageSize,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        });
        const page = await catalogRequest(this.client, this.tableName, 'read the WAL view of every database', () => this.client.send(command));
        counts.requests += 1;
        // Aggregated page by page: a page's items are dropped once gathered.
        for (const item of page.Items ?? []) {
          counts.items += 1;
          const sort = String(item.gsiSort);
          if (sort === MARKER_SORT) {
            complete = Number(item.version) === VIEW_VERSION && Number(item.shards) === VIEW_SHARDS;
            continue;
          }
          const database = sort.slice(0, sort.indexOf('#'));
          let into = gathering.get(database);
          if (!into) {
            if (databases) continue;
            into = emptyGathering();
            gathering.set(database, into);
          }
          gather(into, item);
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }));
    const read = new Map<string, WalDatabaseMeta>();
    for (const [database, gathered] of gathering) read.set(database, finish(database, gathered));
    return { complete, databases: read, ...counts };
  }

  async backfillView(database: string): Promise<number> {
    assertDatabaseName(database);
    const meta = await this.partition(`WALMETA#${database}`);
    const timelines = meta.filter((item) => String(item.sk).startsWith('TL#')).map((item) => Number(item.timeline));
    const wanted: Array<{ key: { pk: string; sk: string }; attributes: { entity: string; gsiSort: string } }> = [];
    const lacking = (item: Item) => item.entity === undefined || item.gsiSort === undefined;
    for (const item of meta) {
      const sk = String(item.sk);
      if (lacking(item) && (sk.startsWith('TL#') || sk === 'STATUS' || sk === 'RETENTION')) wanted.push({ key: { pk: String(item.pk), sk }, attributes: viewAttributes(database, 'META', sk) });
    }
    for (const item of await this.partition(`WALRP#${database}`, true)) wanted.push({ key: { pk: String(item.pk), sk: String(item.sk) }, attributes: viewAttributes(database, 'RP', String(item.sk)) });
    for (const timeline of timelines) {
      for (const item of await this.partition(rangePk(database, timeline), true)) wanted.push({ key: { pk: String(item.pk), sk: String(item.sk) }, attributes: rangeViewAttributes(database, timeline, String(item.sk)) });
    }
    let changed = 0;
    await inPool(wanted, BACKFILL_CONCURRENCY, async ({ key, attributes }) => {
      // Only these two attributes, and only on an item still there: a range being extended or cut meanwhile keeps its own values.
      const update = new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET #entity = :entity, #gsiSort = :gsiSort',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#entity': 'entity', '#gsiSort': 'gsiSort' },
        ExpressionAttributeValues: { ':entity': attributes.entity, ':gsiSort': attributes.gsiSort },
      });
      if (await conditionalWrite(this.client, this.tableName, `put the WAL metadata of database ${database} in the WAL view`, () => this.client.send(update))) changed += 1;
    });
    return changed;
  }

  async markViewComplete(at: string): Promise<void> {
    const put = new PutCommand({ TableName: this.tableName, Item: { ...VIEW_MARKER_KEY, entity: `${VIEW_PREFIX}0`, gsiSort: MARKER_SORT, version: VIEW_VERSION, shards: VIEW_SHARDS, at } });
    await catalogRequest(this.client, this.tableName, 'record that the WAL view is complete', () => this.client.send(put));
  }

  /** Every item of a partition (only those not in the view yet with `lackingOnly`), page by page. */
  private async partition(pk: string, lackingOnly = false): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    const input: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ...(lackingOnly
        ? { FilterExpression: 'attribute_not_exists(#entity) OR attribute_not_exists(#gsiSort)', ProjectionExpression: 'pk, sk', ExpressionAttributeNames: { '#entity': 'entity', '#gsiSort': 'gsiSort' } }
        : {}),
      ConsistentRead: true,
      Limit: this.pageSize,
    };
    do {
      const page = await catalogRequest(this.client, this.tableName, `read ${pk} to backfill the WAL view`, () => this.client.send(new QueryCommand({ ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) })));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}
