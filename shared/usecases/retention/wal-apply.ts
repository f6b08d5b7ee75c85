/**
 * Applies one database's WAL cut-off: the mark is in the catalog before anything is
 * deleted; then, page by page (one Query on keys each), the records' `.json` objects
 * and the segments' bytes go in batches (S3 DeleteObjects), then their catalog items.
 * A run that stops anywhere leaves the mark, and the next run finishes it.
 */
import type { WalCatalog } from '../../adapters/catalog/wal-catalog';
import { isLocked, type Storage } from '../../adapters/storage/storage';
import { deletedByMark, type WalRetentionMark } from '../../domain/retention';
import { walPrefix, walRecordKey } from '../../domain/wal/keys';
import type { Clock, Log } from '../../ports';

/** Segments per page read and per batch deleted: S3 DeleteObjects takes 1 000 keys. */
export const WAL_BATCH = 1000;

export interface WalDeps {
  storage: Storage;
  walCatalog: WalCatalog;
  log: Log;
  clock: Clock;
}

/** What applying (or counting) a mark did. */
export interface WalOutcome {
  segments: number;
  bytes: number;
  locked: number;
}

/** Dry run: how many segment records lie below the mark's cut-offs (kept ranges included). */
export async function countWal(deps: WalDeps, database: string, mark: WalRetentionMark): Promise<WalOutcome> {
  let segments = 0;
  for (const line of mark.timelines) segments += await deps.walCatalog.countSegmentsBelow(database, line.timeline, line.deleteBelow);
  return { segments, bytes: 0, locked: 0 };
}

/**
 * The objects of a batch Object Lock holds. The newest object of the batch is asked
 * first: with the bucket's default retention (creation + N days) nothing older is locked
 * when it is not; only then is every object of the batch asked.
 */
async function lockedKeys(storage: Storage, keys: readonly string[], now: Date): Promise<Set<string>> {
  const newest = keys.at(-1);
  if (newest === undefined || !isLocked(await storage.head(newest), now)) return new Set();
  const locked = new Set<string>();
  for (const key of keys) if (isLocked(await storage.head(key), now)) locked.add(key);
  return locked;
}

/**
 * Deletes what `mark` names, timeline by timeline, oldest first. A record whose object
 * key lies outside the database's WAL folder is left alone (and logged). Locked objects
 * stay with their records, and the timeline stops there (newer ones are locked too).
 * Returns the counts; throws StorageError / CatalogError (the mark stays for the next run).
 */
export async function applyWalMark(deps: WalDeps, database: string, mark: WalRetentionMark, batch = WAL_BATCH): Promise<WalOutcome> {
  const outcome: WalOutcome = { segments: 0, bytes: 0, locked: 0 };
  const prefix = walPrefix(database);
  for (const line of mark.timelines) {
    let after: string | undefined;
    let stop = false;
    while (!stop) {
      const page = await deps.walCatalog.listSegmentsBelow(database, line.timeline, line.deleteBelow, { limit: batch, ...(after !== undefined ? { after } : {}) });
      const victims = page.records.filter((record) => {
        if (!deletedByMark(mark, line.timeline, record.name)) return false;
        if (record.database === database && record.objectKey.startsWith(prefix)) return true;
        deps.log.warn('retention: a WAL record names an object outside its archive: kept', { database, segment: record.name, objectKey: record.objectKey });
        return false;
      });
      const locked = await lockedKeys(deps.storage, victims.map((record) => record.objectKey), deps.clock());
      const free = victims.filter((record) => !locked.has(record.objectKey));
      if (locked.size > 0) {
        outcome.locked += locked.size;
        deps.log.warn('retention: WAL segments held by Object Lock are kept', { database, timeline: line.timeline, locked: locked.size, rule: 'OBJECT_LOCKED' });
        stop = true;
      }
      if (free.length > 0) {
        // The records first: a segment without its record is "not archived", never a half-deleted one that looks whole.
        await deps.storage.delete(free.map((record) => walRecordKey(database, record.name)));
        await deps.storage.delete(free.map((record) => record.objectKey));
        await deps.walCatalog.deleteWalRecords(database, free.map((record) => record.name));
        outcome.segments += free.length;
        outcome.bytes += free.reduce((sum, record) => sum + (record.storedSize ?? 0), 0);
        deps.log.info('WAL segments deleted by retention', { database, timeline: line.timeline, first: free[0]!.name, last: free.at(-1)!.name, segments: free.length, rule: mark.rule });
      }
      after = page.next;
      if (after === undefined) stop = true;
    }
  }
  return outcome;
}
