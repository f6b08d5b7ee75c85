import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoAlertDedupeStore } from '../../shared/adapters/catalog/dynamo-alert-dedupe';
import { DedupingAlertPublisher } from '../../shared/adapters/sns/dedupe';
import { MemoryAlertDedupeStore } from '../../shared/adapters/sns/memory-dedupe';
import { CatalogError } from '../../shared/errors';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import type { Alert, AlertDedupeStore, AlertPublisher } from '../../shared/ports';
import { captureLog } from '../support/stack';

let server: DynaliteServer;
let dynamo: DynamoAlertDedupeStore;
let endpoint: string;

beforeAll(async () => {
  server = await startDynalite({});
  endpoint = server.endpoint;
  await ensureCatalogTable(makeDynamoClient({ endpoint }), LOCAL_TABLE);
  dynamo = new DynamoAlertDedupeStore(toDocumentClient(makeDynamoClient({ endpoint })), LOCAL_TABLE);
});
afterAll(async () => server?.stop());

const T0 = new Date('2026-11-24T03:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const HOUR = 3_600_000;
let n = 0;
const fresh = () => `test-key-${n++}`;

/** One contract, every store. */
describe.each([
  ['DynamoAlertDedupeStore on dynalite', () => dynamo],
  ['MemoryAlertDedupeStore', () => new MemoryAlertDedupeStore()],
] as Array<[string, () => AlertDedupeStore]>)('%s', (_name, make) => {
  let store: AlertDedupeStore;
  beforeEach(() => {
    store = make();
  });

  it('lets the first claim of a key win and refuses repeats within the window', async () => {
    const key = fresh();
    expect(await store.claim(key, T0, HOUR)).toEqual({ claimed: true, suppressedBefore: 0 });
    expect(await store.claim(key, at(1), HOUR)).toEqual({ claimed: false });
    expect(await store.claim(key, at(3_599), HOUR)).toEqual({ claimed: false });
  });

  it('keeps keys apart', async () => {
    const [a, b] = [fresh(), fresh()];
    expect(await store.claim(a, T0, HOUR)).toMatchObject({ claimed: true });
    expect(await store.claim(b, T0, HOUR)).toMatchObject({ claimed: true });
  });

  it('lets a claim win again once the window ended, reporting the repeats it suppressed', async () => {
    const key = fresh();
    await store.claim(key, T0, HOUR);
    for (let i = 1; i <= 3; i++) await store.claim(key, at(i * 60), HOUR);
    expect(await store.claim(key, at(3_600), HOUR)).toEqual({ claimed: true, suppressedBefore: 3 });
    expect(await store.claim(key, at(3_601), HOUR)).toEqual({ claimed: false });
    expect(await store.claim(key, at(7_200), HOUR)).toEqual({ claimed: true, suppressedBefore: 1 });
  });

  it('gives back a claim on release, but only the claim made at that moment', async () => {
    const key = fresh();
    await store.claim(key, T0, HOUR);
    await store.release(key, at(5));
    expect(await store.claim(key, at(10), HOUR)).toEqual({ claimed: false });
    await store.release(key, T0);
    expect(await store.claim(key, at(20), HOUR)).toEqual({ claimed: true, suppressedBefore: 0 });
    await store.release(`${key}-never-claimed`, T0);
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const key = fresh();
    const claims = await Promise.all(Array.from({ length: 25 }, () => store.claim(key, T0, HOUR)));
    expect(claims.filter((claim) => claim.claimed)).toHaveLength(1);
  });
});

describe('DynamoAlertDedupeStore items', () => {
  it('are ALERT#<key> items with an expiry, invisible to the backup catalog', async () => {
    const documents = toDocumentClient(makeDynamoClient({ endpoint }));
    await dynamo.claim('BACKUP_FAILED#app', T0, HOUR);
    const { Item } = await documents.send(new GetCommand({ TableName: LOCAL_TABLE, Key: { pk: 'ALERT#BACKUP_FAILED#app', sk: 'ALERT' } }));
    expect(Item).toEqual({ pk: 'ALERT#BACKUP_FAILED#app', sk: 'ALERT', dedupeKey: 'BACKUP_FAILED#app', sentAt: T0.toISOString(), expiresAt: T0.getTime() / 1000 + 3_600, ttl: T0.getTime() / 1000 + 3_600 + 86_400, suppressed: 0 });
    expect(await localCatalog(endpoint).listAll()).toEqual([]);
  });

  it('hashes keys too long for a DynamoDB key', () => {
    expect(DynamoAlertDedupeStore.keyOf('k'.repeat(600)).pk).toMatch(/^ALERT#sha256:[0-9a-f]{64}$/);
    expect(DynamoAlertDedupeStore.keyOf('short').pk).toBe('ALERT#short');
  });

  it('throws CatalogError when the table does not exist', async () => {
    const missing = new DynamoAlertDedupeStore(toDocumentClient(makeDynamoClient({ endpoint })), 'no-such-table');
    await expect(missing.claim('k', T0, HOUR)).rejects.toBeInstanceOf(CatalogError);
  });
});

/** A publisher that records what reaches it. */
function recorder(): AlertPublisher & { sent: Alert[] } {
  const sent: Alert[] = [];
  return { sent, publish: async (alert) => void sent.push(alert) };
}

const alert = (fields: Partial<Alert> = {}): Alert => ({ type: 'WAL_CONFLICT', severity: 'SEV2', message: 'same name, other bytes', database: 'app', code: 'WAL_CONFLICT', at: T0.toISOString(), ...fields });

describe('DedupingAlertPublisher on dynalite', () => {
  it('sends 500 identical alerts once, logging each suppressed one', async () => {
    const inner = recorder();
    const log = captureLog();
    const database = `db${n++}`;
    const publisher = new DedupingAlertPublisher(inner, dynamo, log, () => T0);

    for (let i = 0; i < 500; i++) await publisher.publish(alert({ database }));

    expect(inner.sent).toEqual([alert({ database, dedupeKey: `WAL_CONFLICT#${database}` })]);
    expect(log.lines.filter((line) => line.message === 'alert suppressed: already sent within its window')).toHaveLength(499);
  }, 120_000);

  it('sends different keys separately, and again after the window with the count', async () => {
    const inner = recorder();
    let now = T0;
    const database = `db${n++}`;
    const publisher = new DedupingAlertPublisher(inner, dynamo, captureLog(), () => now);

    await publisher.publish(alert({ database }));
    await publisher.publish(alert({ database, type: 'WAL_GAP', code: 'WAL_GAP' }));
    await publisher.publish(alert({ database: `${database}-other` }));
    await publisher.publish(alert({ database }));
    now = at(3_600);
    await publisher.publish(alert({ database, message: 'still broken' }));

    expect(inner.sent.map((sent) => [sent.type, sent.database, sent.suppressed])).toEqual([
      ['WAL_CONFLICT', database, undefined],
      ['WAL_GAP', database, undefined],
      ['WAL_CONFLICT', `${database}-other`, undefined],
      ['WAL_CONFLICT', database, 1],
    ]);
    expect(inner.sent.at(-1)!.message).toBe('still broken');
  });

  it('gives the claim back when a sender could not send, so the next repeat goes out', async () => {
    const attempts: Alert[] = [];
    let failing = true;
    const sender = {
      send: async (sent: Alert) => {
        attempts.push(sent);
        if (failing) throw new Error('SNS throttled');
      },
      publish: async () => {
        throw new Error('the decorator must use send');
      },
    };
    const log = captureLog();
    const database = `db${n++}`;
    let now = T0;
    const publisher = new DedupingAlertPublisher(sender, dynamo, log, () => now);

    await publisher.publish(alert({ database }));
    failing = false;
    now = at(60);
    await publisher.publish(alert({ database }));
    now = at(120);
    await publisher.publish(alert({ database }));

    expect(attempts).toHaveLength(2);
    expect(log.lines).toContainEqual({
      level: 'ERROR',
      message: 'alert could not be sent',
      attributes: { type: 'WAL_CONFLICT', database, backupId: undefined, dedupeKey: `WAL_CONFLICT#${database}`, reason: 'SNS throttled', claimReleased: true },
    });
  });

  it('sends anyway when the store is down (fails open), and says so', async () => {
    const down = await startDynalite({});
    const store = new DynamoAlertDedupeStore(toDocumentClient(makeDynamoClient({ endpoint: down.endpoint, maxAttempts: 1 })), LOCAL_TABLE);
    await down.stop();
    const inner = recorder();
    const log = captureLog();
    const publisher = new DedupingAlertPublisher(inner, store, log, () => T0);

    await publisher.publish(alert());
    await publisher.publish(alert());

    expect(inner.sent).toHaveLength(2);
    expect(log.lines.filter((line) => line.level === 'WARN' && line.message === 'alert dedupe unavailable: sending anyway')).toHaveLength(2);
  });
});
