import type { WalCatalog } from '../ports/wal-catalog';
import type { Storage } from '../ports/storage';
import { parseWalName } from '../domain/wal/names';
import { parseWalRecordKey, walObjectKey } from '../domain/wal/keys';
import { parseWalRecord, type WalRecord } from '../domain/wal/record';
import { ConflictError, ManifestError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';

/** What indexing one object did. */
export type IndexWalResult =
  | { outcome: 'created' | 'exists'; database: string; name: string; record: WalRecord }
  /** The key is not a WAL record's (a WAL file's bytes, `archive.json`…): nothing to do. */
  | { outcome: 'ignored'; key: string };

export interface IndexWalDeps {
  storage: Storage;
  walCatalog: WalCatalog;
  log: Log;
  alerts?: AlertPublisher;
  /** Defaults to the system clock. */
  clock?: Clock;
}

/**
 * Indexes the WAL record stored at `key` (its object-created event): reads and validates
 * it, checks that the bytes it describes are stored with the size it declares, and
 * records it in the catalog. Idempotent: a repeated event answers `exists`.
 *
 * Throws ObjectNotFoundError when the record is gone, ManifestError when it is not a
 * valid record for its key, StrongboxError WAL_OBJECT_INVALID when its bytes are missing
 * or of another size (alerted, SEV2), ConflictError when the catalog holds other bytes
 * under the same name (alerted as WAL_CONFLICT, SEV2), and CatalogError / StorageError.
 */
export async function indexWalRecord(deps: IndexWalDeps, key: string): Promise<IndexWalResult> {
  const target = parseWalRecordKey(key);
  if (!target) return { outcome: 'ignored', key };
  const record = parseWalRecord((await deps.storage.getBytes(key)).toString('utf8'), key);
  assertDescribes(record, target, key);
  const at = (deps.clock ?? (() => new Date()))().toISOString();
  const stored = await deps.storage.head(record.objectKey);
  if (stored?.size !== record.storedSize) {
    const problem = new StrongboxError(
      'WAL_OBJECT_INVALID',
      stored
        ? `WAL file ${record.name} of database ${record.database} is stored with ${stored.size} bytes at ${record.objectKey}, but its record declares ${record.storedSize}`
        : `WAL file ${record.name} of database ${record.database} has a record but no bytes at ${record.objectKey}`,
      'the archive has a hole here: take a new base backup now so that recovery does not need this file, and find what changed the object (retention, a manual delete)',
    );
    deps.log.error('WAL record does not match its stored bytes', { database: record.database, segment: record.name, code: problem.code, reason: problem.message });
    await deps.alerts?.publish({ type: problem.code, severity: 'SEV2', message: problem.message, hint: problem.hint, database: record.database, code: problem.code, at });
    throw problem;
  }
  try {
    const outcome = await deps.walCatalog.recordWal(record, at);
    deps.log.info(outcome === 'created' ? 'WAL file indexed' : 'WAL file was already indexed', { database: record.database, segment: record.name, kind: record.kind, timeline: record.timeline, outcome });
    return { outcome, database: record.database, name: record.name, record };
  } catch (error) {
    if (error instanceof ConflictError) {
      deps.log.error('WAL file conflicts with the catalog', { database: record.database, segment: record.name, reason: error.message });
      await deps.alerts?.publish({
        type: 'WAL_CONFLICT',
        severity: 'SEV2',
        message: `WAL file ${record.name} of database ${record.database} was archived twice with different bytes: ${error.message}`,
        hint: error.hint,
        database: record.database,
        code: 'WAL_CONFLICT',
        at,
      });
    }
    throw error;
  }
}

/** A record must describe the very file its key names, where that file's bytes belong. Throws ManifestError. */
export function assertDescribes(record: WalRecord, target: { database: string; name: string }, key: string): void {
  if (record.database !== target.database || record.name !== target.name) {
    throw new ManifestError(key, `it describes ${record.name} of database ${record.database}, not the file its key names`);
  }
  const parsed = parseWalName(record.name, 1 << 20);
  if (parsed.kind !== record.kind || parsed.timeline !== record.timeline) {
    throw new ManifestError(key, `it says ${record.kind} on timeline ${record.timeline}, but ${record.name} is ${parsed.kind} on timeline ${parsed.timeline}`);
  }
  if (record.objectKey !== walObjectKey(record.database, record.name, record.compression)) {
    throw new ManifestError(key, `its bytes are said to be at ${record.objectKey}, outside the place of ${record.name}`);
  }
}
