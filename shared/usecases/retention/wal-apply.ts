/**
 * Applies one database's WAL cut-off: the mark is in the catalog before anything is
 * deleted; then, page by page (one Query on keys each), the records' `.json` objects
 * and the segments' bytes go in batches (S3 DeleteObjects), then their catalog items
 * (BatchWrite), several pages in flight. A run that stops anywhere leaves the mark, and
 * the next run finishes it.
 */
import type { IndexedWalRecord, WalCatalog } from '../../ports/wal-catalog';
import { isLocked, type Storage } from '../../ports/storage';
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

/** Pages whose deletion is in flight at once (each: two DeleteObjects of up to 1,000 keys, then its catalog items). */
export const WAL_IN_FLIGHT = 4;

/**
 * Deletes what `mark` names, timeline by timeline, oldest first. Pages are read one after
 * another (one Query on keys each) and up to `inFlight` of them are deleted at once: for
 * each segment its record's `.json` goes first, then its bytes, then its catalog items
 * (the catalog cuts the ranges one page at a time — a cut is not safe against a
 * concurrent one — and deletes the items of several pages at once). A record whose object key lies
 * outside the database's WAL folder is left alone (and logged). Locked objects stay with
 * their records, and the timeline stops there (newer ones are locked too). Returns the
 * counts; throws StorageError / CatalogError once the pages in flight have settled (the
 * mark stays for the next run, which finishes it).
 */
export async function applyWalMark(deps: WalDeps, database: string, mark: WalRetentionMark, batch = WAL_BATCH, inFlight = WAL_IN_FLIGHT): Promise<WalOutcome> {
  const outcome: WalOutcome = { segments: 0, bytes: 0, locked: 0 };
  for (const line of mark.timelines) await applyTimeline(deps, database, mark, line.timeline, line.deleteBelow, { batch, inFlight }, outcome);
  return outcome;
}

/** The records of one page that the mark deletes (and whose bytes lie in the database's archive). */
function victimsOf(deps: WalDeps, database: string, mark: WalRetentionMark, timeline: number, records: readonly IndexedWalRecord[]): IndexedWalRecord[] {
  const prefix = walPrefix(database);
  return records.filter((record) => {
    if (!deletedByMark(mark, timeline, record.name)) return false;
    if (record.database === database && record.objectKey.startsWith(prefix)) return true;
    deps.log.warn('retention: a WAL record names an object outside its archive: kept', { database, segment: record.name, objectKey: record.objectKey });
    return false;
  });
}

async function applyTimeline(deps: WalDeps, database: string, mark: WalRetentionMark, timeline: number, deleteBelow: string, limits: { batch: number; inFlight: number }, outcome: WalOutcome): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const deletePage = async (free: IndexedWalRecord[]): Promise<void> => {
    // The records first: a segment without its record is "not archived", never a half-deleted one that looks whole.
    await deps.storage.delete(free.map((record) => walRecordKey(database, record.name)));
    await deps.storage.delete(free.map((record) => record.objectKey));
    // The catalog cuts the ranges of one database one page at a time; the items' deletes overlap.
    await deps.walCatalog.deleteWalRecords(database, free.map((record) => record.name));
    outcome.segments += free.length;
    outcome.bytes += free.reduce((sum, record) => sum + (record.storedSize ?? 0), 0);
    deps.log.info('WAL segments deleted by retention', { database, timeline, first: free[0]!.name, last: free.at(-1)!.name, segments: free.length, rule: mark.rule });
  };
  let after: string | undefined;
  let stop = false;
  while (!stop && failure === undefined) {
    const page = await deps.walCatalog.listSegmentsBelow(database, timeline, deleteBelow, { limit: limits.batch, ...(after !== undefined ? { after } : {}) });
    const victims = victimsOf(deps, database, mark, timeline, page.records);
    const locked = await lockedKeys(deps.storage, victims.map((record) => record.objectKey), deps.clock());
    const free = victims.filter((record) => !locked.has(record.objectKey));
    if (locked.size > 0) {
      outcome.locked += locked.size;
      deps.log.warn('retention: WAL segments held by Object Lock are kept', { database, timeline, locked: locked.size, rule: 'OBJECT_LOCKED' });
      stop = true;
    }
    if (free.length > 0) {
      const task: Promise<void> = deletePage(free)
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => running.delete(task));
      running.add(task);
      while (running.size >= limits.inFlight) await Promise.race(running);
    }
    after = page.next;
    if (after === undefined) stop = true;
  }
  await Promise.all(running);
  if (failure) throw failure.error;
}
