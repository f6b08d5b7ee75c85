import { isManifestKey } from '../domain/keys';
import { parseObjectCreatedEvent } from '../domain/object-event';
import { InputError } from '../errors';
import type { Log } from '../ports';

/**
 * The manifests of this bucket that an ObjectCreated event (S3's, or SNS-wrapped) names,
 * and what it names besides: other keys, other buckets, or — for a payload that is no
 * such event — the reason, logged. Never throws for bad input: a garbage event is
 * reported, not retried.
 */
export function manifestsIn(event: unknown, bucket: string, log: Log): { manifests: string[]; ignored: string[] } {
  let objects;
  try {
    objects = parseObjectCreatedEvent(event);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    log.warn('event ignored', { reason: error.message });
    return { manifests: [], ignored: [error.message] };
  }
  const mine = (object: { key: string; bucket: string }) => isManifestKey(object.key) && object.bucket === bucket;
  return {
    manifests: objects.filter(mine).map((object) => object.key),
    ignored: objects.filter((object) => !mine(object)).map((object) => object.key),
  };
}
