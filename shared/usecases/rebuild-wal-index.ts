import type { WalCatalog } from '../ports/wal-catalog';
import type { Storage } from '../ports/storage';
import { parseWalRecordKey } from '../domain/wal/keys';
import { parseWalRecord, type WalRecord } from '../domain/wal/record';
import { asStrongboxError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';
import type { WalCodec } from '../ports/wal-codec';
import { assertDescribes } from './index-wal';
import { checkDeferredWal, isDeferred } from './wal-archive/deferred-check';

/** What rebuilding the WAL index found. */
export interface WalRebuildReport {
  /** WAL records read in storage. */
  records: number;
  created: number;
  alreadyKnown: number;
  /** Records not indexed (unreadable, not describing their key, bytes missing or of another size, conflicting with the catalog): the first 100. */
  skipped: Array<{ key: string; reason: string }>;
  skippedCount: number;
  /** The databases with WAL in storage (from the records' keys), sorted. */
  databases: string[];
}

/** At most this many skipped keys are listed (the count says how many in all). */
const SKIPPED_LISTED = 100;

/**
 * Rebuilds the WAL index from the records in storage (`wal/<database>/…/<name>.json`, the
 * truth: a file is archived when its record exists). The listing is read page by page
 * (S3: 1,000 keys a page) and handled one WAL folder at a time — a folder holds at most
 * 256 segments of one timeline (4 GiB of WAL) with their records and labels — so memory
 * holds one folder, whatever the archive's size (a 7-day window can hold millions of
 * segments). Each record is read and checked as the catalog-index function checks it (it
 * describes its key; its bytes are listed beside it with the size it declares), then the
 * folder's records are written to the catalog in batches (WalCatalog.recordWals: 100
 * reads, 25 writes a request). Idempotent: records already indexed are counted, not
 * rewritten. A record that fails a check is skipped and reported, never indexed. A record
 * whose decoded check was deferred (docs/wal.md, "The deferred decoded check") and that the
 * catalog does not hold yet is decoded and checked first (`codec`); a damaged one is
 * withdrawn as the catalog-index function withdraws it (WAL_DAMAGED), and without a codec
 * it is skipped: never indexed unchecked.
 *
 * @throws StorageError when the listing fails, CatalogError when the catalog does.
 */
export async function rebuildWalIndex(deps: { storage: Storage; walCatalog: WalCatalog; log: Log; clock: Clock; codec?: WalCodec; alerts?: AlertPublisher }): Promise<WalRebuildReport> {
  const report: WalRebuildReport = { records: 0, created: 0, alreadyKnown: 0, skipped: [], skippedCount: 0, databases: [] };
  const databases = new Set<string>();
  const at = deps.clock().toISOString();
  let folder: string | undefined;
  let sizes = new Map<string, number>();
  let recordKeys: string[] = [];
  const skip = (key: string, reason: string) => {
    report.skippedCount += 1;
    if (report.skipped.length < SKIPPED_LISTED) report.skipped.push({ key, reason });
    deps.log.warn('WAL record skipped during rebuild', { key, reason });
  };
  const flush = async () => {
    const records: WalRecord[] = [];
    for (const key of recordKeys) {
      try {
        const record = parseWalRecord((await deps.storage.getBytes(key)).toString('utf8'), key);
        assertDescribes(record, parseWalRecordKey(key)!, key);
        const stored = sizes.get(record.objectKey);
        if (stored !== record.storedSize) throw new StrongboxError('WAL_OBJECT_INVALID', stored === undefined ? `its bytes ${record.objectKey} are missing` : `its bytes are ${stored} bytes, the record declares ${record.storedSize}`);
        if (isDeferred(record) && !(await deps.walCatalog.getWal(record.database, record.name)) && (await checkDeferredWal(deps, key, record)) === 'damaged') {
          skip(key, `its object ${record.objectKey} does not decode to what the record declares: withdrawn as damaged (WAL_DAMAGED)`);
          continue;
        }
        records.push(record);
      } catch (error) {
        skip(key, asStrongboxError(error).message);
      }
    }
    report.records += recordKeys.length;
    if (records.length > 0) {
      const outcome = await deps.walCatalog.recordWals(records, at);
      report.created += outcome.created;
      report.alreadyKnown += outcome.existing;
      for (const conflict of outcome.conflicts) skip(`wal/${conflict.database}/…/${conflict.name}.json`, `the catalog records ${conflict.name} with SHA-256 ${conflict.recorded}, storage with ${conflict.offered}`);
    }
    sizes = new Map();
    recordKeys = [];
  };
  for await (const object of deps.storage.list('wal/')) {
    const here = object.key.slice(0, object.key.lastIndexOf('/') + 1);
    if (here !== folder) {
      await flush();
      folder = here;
    }
    sizes.set(object.key, object.size);
    const parsed = parseWalRecordKey(object.key);
    if (parsed) {
      recordKeys.push(object.key);
      databases.add(parsed.database);
    }
  }
  await flush();
  report.databases = [...databases].sort();
  deps.log.info('WAL index rebuilt', { records: report.records, created: report.created, alreadyKnown: report.alreadyKnown, skipped: report.skippedCount });
  return report;
}
