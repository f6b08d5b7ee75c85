import { createHash } from 'node:crypto';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AlertDedupeStore, DedupeClaim } from '../../ports';
import { isConditionalCheckFailed, toCatalogError } from './sdk-errors';

/**
 * Alert deduplication on the catalog's table: one item per dedupe key,
 * `pk = ALERT#<key>`, `sk = ALERT`, with `expiresAt` (epoch seconds) ending its window and
 * `ttl` (a day later) for the table's TTL to remove it. The item has none of the index attributes
 * (`database`, `entity`, `state`, `gsiSort`), so it never shows in a backup listing.
 *
 * A claim is one conditional put: it wins when no item exists or the item's window has
 * ended. DynamoDB serialises conditional writes on one item, so of concurrent claims
 * exactly one wins. A lost claim adds one to the item's `suppressed` count, which the
 * next winning claim (after the window) reads back from the replaced item.
 * Throws CatalogError when the claim cannot be made (DynamoDB unreachable or refusing);
 * a failed count is ignored.
 */
export class DynamoAlertDedupeStore implements AlertDedupeStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** The item key for a dedupe key; long keys are hashed so the key stays under DynamoDB's limit. */
  static keyOf(dedupeKey: string): { pk: string; sk: string } {
    const id = dedupeKey.length <= 512 ? dedupeKey : `sha256:${createHash('sha256').update(dedupeKey).digest('hex')}`;
    return { pk: `ALERT#${id}`, sk: 'ALERT' };
  }

  async claim(key: string, now: Date, windowMs: number): Promise<DedupeClaim> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const put = new PutCommand({
      TableName: this.tableName,
      // `ttl` (a day after the window) lets DynamoDB remove the item; `expiresAt` ends the window.
      Item: {
        ...DynamoAlertDedupeStore.keyOf(key),
        dedupeKey: key.slice(0, 1024),
        sentAt: now.toISOString(),
        expiresAt: nowSeconds + Math.ceil(windowMs / 1000),
        ttl: nowSeconds + Math.ceil(windowMs / 1000) + 86_400,
        suppressed: 0,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
      ExpressionAttributeValues: { ':now': nowSeconds },
      ReturnValues: 'ALL_OLD',
    });
    try {
      const output = await this.client.send(put);
      const before = output.Attributes?.suppressed;
      return { claimed: true, suppressedBefore: typeof before === 'number' ? before : 0 };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw await toCatalogError(error, `claim alert key ${key}`, this.client, this.tableName);
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: DynamoAlertDedupeStore.keyOf(key),
          UpdateExpression: 'ADD suppressed :one SET lastSuppressedAt = :at',
          ExpressionAttributeValues: { ':one': 1, ':at': now.toISOString() },
        }),
      );
    } catch {
      // The count is a courtesy: the claim is lost either way, and failing here would send a duplicate.
    }
    return { claimed: false };
  }

  async release(key: string, claimedAt: Date): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: DynamoAlertDedupeStore.keyOf(key),
          // Only the claim made at that moment: a later one belongs to an alert that was sent.
          ConditionExpression: 'sentAt = :at',
          ExpressionAttributeValues: { ':at': claimedAt.toISOString() },
        }),
      );
    } catch {
      // Lost condition or DynamoDB trouble: the window then simply runs its course.
    }
  }
}
