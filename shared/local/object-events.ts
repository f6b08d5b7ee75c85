import { catalogIndexHandler } from '../../functions/catalog-index';
import { checksumHandler } from '../../functions/checksum';
import type { Catalog } from '../adapters/catalog/catalog';
import type { Storage } from '../adapters/storage/storage';
import { MANIFEST_NAME } from '../domain/keys';
import { objectCreatedEvent } from '../domain/object-event';
import type { AlertPublisher, Clock, Log } from '../ports';

/**
 * Local mode's stand-in for the bucket notification: every completed write of a
 * manifest (the same suffix filter as serverless.yml) becomes an S3 ObjectCreated event
 * in AWS's shape, delivered to the catalog-index and checksum functions, in that order.
 * A handler failure is logged (in AWS the event would be retried; here the next
 * `strongbox catalog rebuild` or the watchdog picks it up).
 */
export function deliverObjectEvents(deps: { storage: Storage; catalog: Catalog; alerts: AlertPublisher; log: Log; clock: Clock }): void {
  const index = catalogIndexHandler(deps);
  const checksum = checksumHandler(deps);
  deps.storage.onObjectCreated(async (object) => {
    if (!object.key.endsWith(MANIFEST_NAME)) return;
    const event = objectCreatedEvent({ bucket: object.bucket, key: object.key, size: object.size, etag: object.etag, time: deps.clock() });
    for (const [name, handle] of [['catalog-index', index], ['checksum', checksum]] as const) {
      try {
        await handle(event);
      } catch (error) {
        deps.log.error('local event handler failed', { function: name, key: object.key, error: (error as Error).message });
      }
    }
  });
}
