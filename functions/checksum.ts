import { ManifestError } from '../shared/errors';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { manifestsIn } from '../shared/runtime/manifest-events';
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
    const { manifests, walRecords, ignored: others } = manifestsIn(event, deps.storage.bucket, deps.log);
    // WAL records describe bytes the archive endpoint verified before writing them.
    const ignored = [...others, ...walRecords];
    const result: ChecksumResult = { verified: [], failed: [], ignored };
    for (const key of manifests) {
      try {
        const entry = await verifyBackup(deps, key);
        (entry.state === 'VERIFIED' ? result.verified : result.failed).push(entry.id);
      } catch (error) {
        if (!(error instanceof ManifestError)) throw error;
        result.failed.push(key);
        deps.log.error('manifest unreadable', { key, reason: error.message });
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
