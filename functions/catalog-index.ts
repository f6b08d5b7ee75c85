import type { Catalog } from '../shared/adapters/catalog/catalog';
import type { Storage } from '../shared/adapters/storage/storage';
import { isManifestKey } from '../shared/domain/keys';
import { parseObjectCreatedEvent } from '../shared/domain/object-event';
import { InputError, ManifestError } from '../shared/errors';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { indexManifest } from '../shared/usecases/index-manifest';

export interface IndexResult {
  indexed: string[];
  ignored: string[];
}

/**
 * On ObjectCreated of a manifest: makes sure the catalog has the backup it describes
 * (created as UPLOADED when missing; a RUNNING entry moves to UPLOADED). Idempotent.
 */
export function catalogIndexHandler(deps: { storage: Storage; catalog: Catalog; log: Log }) {
  return async (event: unknown): Promise<IndexResult> => {
    const result: IndexResult = { indexed: [], ignored: [] };
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
        const { entry } = await indexManifest(deps, object.key);
        result.indexed.push(entry.id);
      } catch (error) {
        if (!(error instanceof ManifestError)) throw error;
        deps.log.error('manifest unreadable: not indexed', { key: object.key, reason: error.message });
        result.ignored.push(object.key);
      }
    }
    return result;
  };
}

let deps: Parameters<typeof catalogIndexHandler>[0] | undefined;

export const handler = lambdaHandler('catalog-index', (event: unknown) =>
  catalogIndexHandler((deps ??= awsDeps(process.env, lambdaLog)))(event),
);
