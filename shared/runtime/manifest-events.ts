import { isManifestKey } from '../domain/keys';
import { parseWalRecordKey } from '../domain/wal/keys';
import { parseObjectCreatedEvent } from '../domain/object-event';
import { InputError } from '../errors';
import type { Log } from '../ports';

/**
 * The backup manifests and WAL records of this bucket that an ObjectCreated event (S3's,
 * or SNS-wrapped) names, and what it names besides: other keys, other buckets, or — for a
 * payload that is no such event — the reason, logged. Never throws for bad input: a
 * garbage event is reported, not retried.
 */
export function manifestsIn(event: unknown, bucket: string, log: Log): { manifests: string[]; walRecords: string[]; ignored: string[] } {
  let objects;
  try {
    objects = parseObjectCreatedEvent(event);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    log.warn('event ignored', { reason: error.message });
    return { manifests: [], walRecords: [], ignored: [error.message] };
  }
  const ours = objects.filter((object) => object.bucket === bucket);
  const manifests = ours.filter((object) => isManifestKey(object.key)).map((object) => object.key);
  const walRecords = ours.filter((object) => parseWalRecordKey(object.key) !== undefined).map((object) => object.key);
  const known = new Set([...manifests, ...walRecords]);
  return { manifests, walRecords, ignored: objects.filter((object) => object.bucket !== bucket || !known.has(object.key)).map((object) => object.key) };
}
