import { catalogIndexHandler } from '../../functions/catalog-index';
import { checksumHandler } from '../../functions/checksum';
import type { Catalog } from '../ports/catalog';
import type { WalCatalog } from '../ports/wal-catalog';
import type { Storage } from '../ports/storage';
import { MANIFEST_NAME } from '../domain/keys';
import { parseWalRecordKey } from '../domain/wal/keys';
import { objectCreatedEvent } from '../domain/object-event';
import type { AlertPublisher, Clock, Log, Reverifier } from '../ports';
import { walCodec } from '../adapters/wal-codec/inspect';
import { BackgroundQueue } from './background-queue';

/**
 * Local mode's stand-in for the bucket notification: every completed write of a
 * manifest or a WAL record (the same filters as serverless.yml) becomes an S3
 * ObjectCreated event in AWS's shape, delivered to the catalog-index and (manifests only)
 * checksum functions, in that order. WAL records written while an earlier delivery of
 * records runs are delivered together, as one event of several records (as a function fed
 * by a queue gets them): a burst of pushes costs the catalog one batched write per event
 * (indexWalRecords), not one per file. Each write still waits until its own record was
 * delivered.
 * A handler failure is logged (in AWS the event would be retried; here the next
 * `strongbox catalog rebuild` or the watchdog picks it up).
 *
 * The decoded check of a record presign mode's `complete` deferred (docs/wal.md, "The
 * deferred decoded check") runs inside the delivery, before the record is indexed, unless
 * `deferChecks`: then on a background queue, as S3's asynchronous event runs it in AWS (the
 * benchmark's AWS-shaped path); `idle()` resolves once the queued ones have run.
 */
export function deliverObjectEvents(
  deps: { storage: Storage; catalog: Catalog; walCatalog: WalCatalog; alerts: AlertPublisher; log: Log; clock: Clock },
  options: { deferChecks?: boolean } = {},
): { idle(): Promise<void>; stats(): { ran: number; busyMs: number }; hold(): void; release(): void } {
  const checks = new BackgroundQueue({ name: 'deferred WAL checks', log: deps.log });
  const deferCheck = options.deferChecks ? (job: () => Promise<void>) => void checks.push(job) : undefined;
  const index = catalogIndexHandler({ ...deps, codec: walCodec, ...(deferCheck ? { deferCheck } : {}) });
  const checksum = checksumHandler(deps);
  const deliver = async (objects: readonly CreatedInfo[], handlers: ReadonlyArray<readonly [string, (event: unknown) => Promise<unknown>]>) => {
    const event = { Records: objects.flatMap((object) => objectCreatedEvent({ bucket: object.bucket, key: object.key, size: object.size, etag: object.etag, time: deps.clock() }).Records) };
    for (const [name, handle] of handlers) {
      try {
        await handle(event);
      } catch (error) {
        deps.log.error('local event handler failed', { function: name, keys: objects.map((object) => object.key).join(',').slice(0, 400), error: (error as Error).message });
      }
    }
  };
  const walRecords = inBatches<CreatedInfo>((objects) => deliver(objects, [['catalog-index', index]]));
  deps.storage.onObjectCreated(async (object) => {
    if (parseWalRecordKey(object.key) !== undefined) return walRecords(object);
    if (object.key.endsWith(MANIFEST_NAME)) await deliver([object], [['catalog-index', index], ['checksum', checksum]]);
  });
  return { idle: () => checks.idle(), stats: () => checks.stats(), hold: () => checks.hold(), release: () => checks.release() };
}

type CreatedInfo = Parameters<Parameters<Storage['onObjectCreated']>[0]>[0];

/** The most records one event carries (BatchGetItem reads 100 keys at a time). */
const MAX_BATCH = 100;

/**
 * Delivery in batches: the items added while a delivery runs wait for the next one, which
 * takes them all (at most MAX_BATCH). Each `add` resolves once its item was delivered.
 * `deliver` never rejects.
 */
export function inBatches<T>(deliver: (items: readonly T[]) => Promise<void>): (item: T) => Promise<void> {
  const waiting: Array<{ item: T; done: () => void }> = [];
  let draining = false;
  const drain = async () => {
    draining = true;
    while (waiting.length > 0) {
      const batch = waiting.splice(0, MAX_BATCH);
      await deliver(batch.map(({ item }) => item));
      for (const { done } of batch) done();
    }
    draining = false;
  };
  return (item) =>
    new Promise<void>((done) => {
      waiting.push({ item, done });
      if (!draining) void drain();
    });
}

/**
 * Local mode's way of asking for a verification again (the watchdog, for an entry left
 * UPLOADED): the manifest's ObjectCreated event handed to the checksum handler in-process,
 * as the first delivery did.
 */
export function localReverifier(deps: { storage: Storage; catalog: Catalog; alerts: AlertPublisher; log: Log; clock: Clock }): Reverifier {
  const checksum = checksumHandler(deps);
  return {
    async reverify(manifestKey) {
      await checksum(objectCreatedEvent({ bucket: deps.storage.bucket, key: manifestKey, size: 0, time: deps.clock() }));
    },
  };
}
