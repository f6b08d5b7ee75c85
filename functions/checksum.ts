import { isManifestKey } from '../shared/domain/keys';
import { parseObjectCreatedEvent } from '../shared/domain/object-event';
import { InputError, ManifestError } from '../shared/errors';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { verifyBackup, type VerifyDeps } from '../shared/usecases/verify-backup';

export interface ChecksumResult {
  verified: string[];
  failed: string[];
  ignored: string[];
}

/**
 * On ObjectCreated of a manifest: re-reads the objects it declares and compares their
 * SHA-256 (VERIFIED, or FAILED + alert). Garbage events and unreadable manifests are
 * reported, not retried; storage or catalog trouble is thrown so the event is retried.
 */
export function checksumHandler(deps: VerifyDeps) {
  return async (event: unknown): Promise<ChecksumResult> => {
    const result: ChecksumResult = { verified: [], failed: [], ignored: [] };
    let objects;
    try {
      objects = parseObjectCreatedEvent(event);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      deps.log.warn('event ignored', { reason: error.message });
      result.ignored.push(error.message);
      return result;
    }
    for (const object of objects) {
      if (!isManifestKey(object.key) || object.bucket !== deps.storage.bucket) {
        result.ignored.push(object.key);
        continue;
      }
      try {
        const entry = await verifyBackup(deps, object.key);
        (entry.state === 'VERIFIED' ? result.verified : result.failed).push(entry.id);
      } catch (error) {
        if (!(error instanceof ManifestError)) throw error;
        result.failed.push(object.key);
        deps.log.error('manifest unreadable', { key: object.key, reason: error.message });
        await deps.alerts.publish({
          type: 'MANIFEST_INVALID',
          severity: 'SEV2',
          message: error.message,
          hint: error.hint,
          code: error.code,
          at: deps.clock().toISOString(),
        });
      }
    }
    return result;
  };
}

let deps: VerifyDeps | undefined;

export const handler = lambdaHandler('checksum', (event: unknown) => checksumHandler((deps ??= awsDeps(process.env, lambdaLog)))(event));
