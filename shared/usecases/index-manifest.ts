import type { Catalog } from '../ports/catalog';
import type { Storage } from '../ports/storage';
import type { BackupEntry } from '../domain/backup';
import { entryFromManifest, parseManifest, type Manifest } from '../domain/manifest';
import { ConflictError } from '../errors';
import type { Log } from '../ports';

/** Reads and validates the manifest at `key`. Throws ObjectNotFoundError or ManifestError. */
export async function readManifest(storage: Storage, key: string): Promise<Manifest> {
  return parseManifest((await storage.getBytes(key)).toString('utf8'), key);
}

/**
 * Makes the catalog know the backup a manifest describes: creates the entry as UPLOADED
 * when it is missing (an object that arrived without its writer, or a rebuild), moves a
 * RUNNING entry to UPLOADED, and leaves a later state alone. Idempotent.
 */
export async function indexManifest(
  deps: { storage: Storage; catalog: Catalog; log: Log },
  manifestKey: string,
  preread?: Manifest,
): Promise<{ entry: BackupEntry; manifest: Manifest; created: boolean }> {
  const manifest = preread ?? (await readManifest(deps.storage, manifestKey));
  const indexed = entryFromManifest(manifest, manifestKey);
  if (await deps.catalog.create(indexed)) {
    deps.log.info('catalog entry created from manifest', { backupId: indexed.id, manifestKey });
    return { entry: indexed, manifest, created: true };
  }
  const existing = await deps.catalog.get(indexed.id);
  if (existing?.state === 'RUNNING') {
    try {
      const entry = await deps.catalog.transition(indexed.id, 'UPLOADED', {
        key: indexed.key,
        ...(indexed.partKeys ? { partKeys: indexed.partKeys } : {}),
        bytes: indexed.bytes,
        sha256: indexed.sha256,
        finishedAt: indexed.finishedAt,
        ...(indexed.base ? { base: indexed.base } : {}),
      });
      return { entry, manifest, created: false };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  return { entry: (await deps.catalog.get(indexed.id)) ?? indexed, manifest, created: false };
}
