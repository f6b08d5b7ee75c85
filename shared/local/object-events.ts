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
 * checksum functions, in that order.
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
  deps.storage.onObjectCreated(async (object) => {
    const wal = parseWalRecordKey(object.key) !== undefined;
    if (!object.key.endsWith(MANIFEST_NAME) && !wal) return;
    const event = objectCreatedEvent({ bucket: object.bucket, key: object.key, size: object.size, etag: object.etag, time: deps.clock() });
    const handlers = wal ? ([['catalog-index', index]] as const) : ([['catalog-index', index], ['checksum', checksum]] as const);
    for (const [name, handle] of handlers) {
      try {
        await handle(event);
      } catch (error) {
        deps.log.error('local event handler failed', { function: name, key: object.key, error: (error as Error).message });
      }
    }
  });
  return { idle: () => checks.idle(), stats: () => checks.stats(), hold: () => checks.hold(), release: () => checks.release() };
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
