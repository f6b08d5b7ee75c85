import type { Catalog } from '../shared/ports/catalog';
import type { WalCatalog } from '../shared/ports/wal-catalog';
import type { Storage } from '../shared/ports/storage';
import { ManifestError } from '../shared/errors';
import type { AlertPublisher, Clock, Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { manifestsIn } from '../shared/runtime/manifest-events';
import { indexManifest } from '../shared/usecases/index-manifest';
import { indexWalRecords, type IndexWalDeps, type IndexWalResult } from '../shared/usecases/index-wal';
import { walCodec } from '../shared/adapters/wal-codec/inspect';
import type { WalCodec } from '../shared/ports/wal-codec';

export interface IndexResult {
  indexed: string[];
  ignored: string[];
  /** WAL files whose deferred decoded check found their object damaged: withdrawn, not indexed (present only when any). */
  damaged?: string[];
}

/**
 * On ObjectCreated of a manifest: makes sure the catalog has the backup it describes
 * (created as UPLOADED when missing; a RUNNING entry moves to UPLOADED). On ObjectCreated
 * of a WAL record: records the WAL file in the catalog, after decoding and checking its
 * object when its record deferred that (docs/wal.md, "The deferred decoded check"; a
 * damaged one is withdrawn and alerted). Idempotent.
 */
export function catalogIndexHandler(deps: { storage: Storage; catalog: Catalog; walCatalog: WalCatalog; log: Log; alerts?: AlertPublisher; clock?: Clock; codec?: WalCodec; deferCheck?: IndexWalDeps['deferCheck'] }) {
  const indexDeps: IndexWalDeps = { codec: walCodec, ...deps };
  return async (event: unknown): Promise<IndexResult> => {
    const { manifests, walRecords, ignored } = manifestsIn(event, deps.storage.bucket, deps.log);
    const result: IndexResult = { indexed: [], ignored };
    for (const key of manifests) {
      try {
        const { entry } = await indexManifest(deps, key);
        result.indexed.push(entry.id);
      } catch (error) {
        if (!(error instanceof ManifestError)) throw error;
        deps.log.error('manifest unreadable: not indexed', { key, reason: error.message });
        result.ignored.push(key);
      }
    }
    // The records of one event are indexed together (local mode delivers those written meanwhile as one): one catalog write for all.
    const batch = await indexWalRecords(indexDeps, walRecords);
    result.indexed.push(...batch.indexed.map((record) => record.name));
    for (const other of batch.others) addOutcome(result, other);
    for (const { key, reason } of batch.unreadable) {
      deps.log.error('WAL record unreadable: not indexed', { key, reason });
      result.ignored.push(key);
    }
    return result;
  };
}

function addOutcome(result: IndexResult, indexed: IndexWalResult): void {
  if (indexed.outcome === 'ignored') result.ignored.push(indexed.key);
  else if (indexed.outcome === 'damaged') (result.damaged ??= []).push(indexed.name);
  else result.indexed.push(indexed.name);
}

let deps: Parameters<typeof catalogIndexHandler>[0] | undefined;

export const handler = lambdaHandler('catalog-index', (event: unknown) =>
  catalogIndexHandler((deps ??= awsDeps(process.env, lambdaLog)))(event),
);
