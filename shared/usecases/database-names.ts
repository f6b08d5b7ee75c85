import type { Catalog } from '../ports/catalog';
import type { Storage } from '../ports/storage';
import { nearestName } from '../domain/near-name';
import { UnknownDatabaseError } from '../errors';

/** The hint of a catalog that lost its entries while the storage kept the backups. */
export const REBUILD_HINT = 'the catalog is empty but the storage holds objects: run `strongbox catalog rebuild` to index the backups again';

/** True when storage holds at least one object: one listing, stopped at its first key. */
export async function storageHasObjects(storage: Storage): Promise<boolean> {
  const objects = storage.list('')[Symbol.asyncIterator]();
  try {
    return !(await objects.next()).done;
  } finally {
    await objects.return?.();
  }
}

/** True when the catalog has no backup at all while the storage holds objects (a lost or new catalog). */
export async function catalogLooksLost(deps: { catalog: Catalog; storage: Storage }): Promise<boolean> {
  if ((await deps.catalog.listAll({ limit: 1 })).length) return false;
  return storageHasObjects(deps.storage);
}

/**
 * Checks that `name` (a `--database` flag) is a database Strongbox knows: one of
 * `configured` (the config, DATABASE_URL's, the demo's), or one with backups in the
 * catalog. Throws UnknownDatabaseError otherwise, whose hint names the nearest known name
 * when one is a few typing mistakes away, lists the known ones, and points at `strongbox
 * catalog rebuild` when the catalog is empty while the storage holds objects. Throws
 * CatalogError / StorageError when those cannot be read.
 */
export async function checkDatabaseName(deps: { catalog: Catalog; storage: Storage }, input: { name: string; configured: readonly string[] }): Promise<void> {
  if (input.configured.includes(input.name)) return;
  if ((await deps.catalog.listByDatabase(input.name, { limit: 1 })).length) return;
  // Only on this error path: every entry, for the names (the catalog has no index of databases).
  const cataloged = new Set((await deps.catalog.listAll()).map((entry) => entry.database));
  const known = [...new Set([...input.configured, ...cataloged])].sort();
  const near = nearestName(input.name, known);
  const hints = [
    ...(near ? [`did you mean "${near}"?`] : []),
    known.length ? `known: ${known.join(', ')}` : 'no database is configured and the catalog has no backup: add it to strongbox.config.json, or take a backup of it first',
    ...(cataloged.size === 0 && (await storageHasObjects(deps.storage)) ? [REBUILD_HINT] : []),
  ];
  throw new UnknownDatabaseError(input.name, hints.join('; '));
}
