import type { WalCatalog } from '../ports/wal-catalog';
import type { Storage } from '../ports/storage';
import { parseWalName } from '../domain/wal/names';
import { parseWalRecordKey, walObjectKey } from '../domain/wal/keys';
import { parseWalRecord, type WalRecord } from '../domain/wal/record';
import { ConflictError, ManifestError, StrongboxError, walRecordConflict } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';
import type { WalCodec } from '../ports/wal-codec';
import { checkDeferredWal, isDeferred } from './wal-archive/deferred-check';

/** What indexing one object did. */
export type IndexWalResult =
  | { outcome: 'created' | 'exists'; database: string; name: string; record: WalRecord }
  /** A deferred record whose object proved damaged: withdrawn, not indexed (deferred-check.ts). */
  | { outcome: 'damaged'; database: string; name: string; record: WalRecord }
  /** A deferred record handed to `deferCheck`: checked and indexed later. */
  | { outcome: 'deferred'; database: string; name: string; record: WalRecord }
  /** The key is not a WAL record's (a WAL file's bytes, `archive.json`…): nothing to do. */
  | { outcome: 'ignored'; key: string };

export interface IndexWalDeps {
  storage: Storage;
  walCatalog: WalCatalog;
  log: Log;
  alerts?: AlertPublisher;
  /** Defaults to the system clock. */
  clock?: Clock;
  /**
   * Decodes stored objects: needed to check a record whose decoded size and SHA-256 were
   * deferred (`decodedCheck: 'deferred'`); without it such a record is not indexed (CONFIG_INVALID).
   */
  codec?: WalCodec;
  /**
   * Local mode's stand-in for S3's asynchronous event: runs a deferred record's check (and
   * then its indexing) later, off the writer's path. Absent (AWS, where the event already is
   * asynchronous): the check runs here, before the record is indexed.
   */
  deferCheck?: (job: () => Promise<void>) => void;
}

/**
 * Indexes the WAL record stored at `key` (its object-created event): reads and validates
 * it, checks that the bytes it describes are stored with the size it declares, and
 * records it in the catalog. Idempotent: a repeated event answers `exists`. A record whose
 * decoded size and SHA-256 were deferred (presign mode's `complete` of a compressed object)
 * and that the catalog does not hold yet is first decoded and checked (checkDeferredWal):
 * a damaged one is withdrawn and never indexed (`damaged`).
 *
 * Throws ObjectNotFoundError when the record is gone, ManifestError when it is not a
 * valid record for its key, StrongboxError WAL_OBJECT_INVALID when its bytes are missing
 * or of another size (alerted, SEV2), ConflictError when the catalog holds other bytes
 * under the same name (alerted as WAL_CONFLICT, SEV2), and CatalogError / StorageError.
 */
export async function indexWalRecord(deps: IndexWalDeps, key: string): Promise<IndexWalResult> {
  const read = await readWalRecord(deps, key);
  return read.outcome === 'checked' ? recordChecked(deps, read.record, read.at) : read;
}

/**
 * Indexes the WAL records at `keys` (the records of one event), each read and checked as
 * indexWalRecord does; the records ready to be indexed are then written to the catalog in
 * one batch (WalCatalog.recordWals) instead of one write each: what a burst of pushes
 * costs the catalog (local mode delivers the records written meanwhile as one event,
 * object-events.ts); a single one is recorded as indexWalRecord does. Resolves what was
 * indexed and every other outcome; a record that is not readable as one is `unreadable`
 * (logged by the caller).
 *
 * Throws as indexWalRecord: a conflict with the catalog (each alerted) after every other
 * record was indexed.
 */
export async function indexWalRecords(deps: IndexWalDeps, keys: readonly string[]): Promise<{ indexed: WalRecord[]; others: IndexWalResult[]; unreadable: Array<{ key: string; reason: string }> }> {
  const ready: WalRecord[] = [];
  const others: IndexWalResult[] = [];
  const unreadable: Array<{ key: string; reason: string }> = [];
  for (const key of keys) {
    try {
      const read = await readWalRecord(deps, key);
      if (read.outcome === 'checked') ready.push(read.record);
      else others.push(read);
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      unreadable.push({ key, reason: error.message });
    }
  }
  if (ready.length === 0) return { indexed: [], others, unreadable };
  // One record: indexed as alone (its log line, its conflict as the catalog reports it).
  if (ready.length === 1) {
    await recordChecked(deps, ready[0]!, now(deps));
    return { indexed: ready, others, unreadable };
  }
  const at = now(deps);
  const outcome = await deps.walCatalog.recordWals(ready, at);
  const conflicted = new Set(outcome.conflicts.map((conflict) => `${conflict.database}\u0000${conflict.name}`));
  const indexed = ready.filter((record) => !conflicted.has(`${record.database}\u0000${record.name}`));
  deps.log.info('WAL files indexed', { databases: [...new Set(ready.map((record) => record.database))].join(','), files: indexed.length, created: outcome.created, existing: outcome.existing, first: indexed[0]?.name, last: indexed.at(-1)?.name });
  const errors = outcome.conflicts.map((conflict) => ({ conflict, error: walRecordConflict(conflict) }));
  for (const { conflict, error } of errors) await conflictAlert(deps, conflict, error, at);
  if (errors.length > 0) throw new ConflictError(`${errors.length} WAL file(s) conflict with the catalog, first ${errors[0]!.conflict.name}`, errors[0]!.error.hint);
  return { indexed, others, unreadable };
}

/** A record read and checked, ready to be recorded in the catalog (`checked`), or what else became of it. */
async function readWalRecord(deps: IndexWalDeps, key: string): Promise<IndexWalResult | { outcome: 'checked'; record: WalRecord; at: string }> {
  const target = parseWalRecordKey(key);
  if (!target) return { outcome: 'ignored', key };
  const record = parseWalRecord((await deps.storage.getBytes(key)).toString('utf8'), key);
  assertDescribes(record, target, key);
  const at = now(deps);
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
  if (isDeferred(record) && !(await deps.walCatalog.getWal(record.database, record.name))) {
    if (deps.deferCheck) {
      deps.deferCheck(async () => void (await checkThenRecord(deps, key, record, at)));
      return { outcome: 'deferred', database: record.database, name: record.name, record };
    }
    return checkThenRecord(deps, key, record, at);
  }
  return { outcome: 'checked', record, at };
}

function now(deps: IndexWalDeps): string {
  return (deps.clock ?? (() => new Date()))().toISOString();
}

/** The deferred decoded check, then the indexing of a record that passed it. */
async function checkThenRecord(deps: IndexWalDeps, key: string, record: WalRecord, at: string): Promise<IndexWalResult> {
  if (!deps.codec) throw new StrongboxError('CONFIG_INVALID', `WAL record ${key} needs its object decoded before it is indexed, and no codec was given`, 'wire the WAL codec into the indexer (a Strongbox bug)');
  const checked = await checkDeferredWal({ storage: deps.storage, codec: deps.codec, log: deps.log, walCatalog: deps.walCatalog, ...(deps.alerts ? { alerts: deps.alerts } : {}), ...(deps.clock ? { clock: deps.clock } : {}) }, key, record);
  if (checked === 'damaged') return { outcome: 'damaged', database: record.database, name: record.name, record };
  return recordChecked(deps, record, at);
}

/** Records a record whose bytes were checked; alerts a conflict with the catalog. */
async function recordChecked(deps: IndexWalDeps, record: WalRecord, at: string): Promise<IndexWalResult> {
  try {
    const outcome = await deps.walCatalog.recordWal(record, at);
    deps.log.info(outcome === 'created' ? 'WAL file indexed' : 'WAL file was already indexed', { database: record.database, segment: record.name, kind: record.kind, timeline: record.timeline, outcome });
    return { outcome, database: record.database, name: record.name, record };
  } catch (error) {
    if (error instanceof ConflictError) await conflictAlert(deps, record, error, at);
    throw error;
  }
}

/** Logs and alerts (SEV2, WAL_CONFLICT) a record the catalog holds with other bytes. */
async function conflictAlert(deps: IndexWalDeps, file: { database: string; name: string }, error: ConflictError, at: string): Promise<void> {
  deps.log.error('WAL file conflicts with the catalog', { database: file.database, segment: file.name, reason: error.message });
  await deps.alerts?.publish({
    type: 'WAL_CONFLICT',
    severity: 'SEV2',
    message: `WAL file ${file.name} of database ${file.database} was archived twice with different bytes: ${error.message}`,
    hint: error.hint,
    database: file.database,
    code: 'WAL_CONFLICT',
    at,
  });
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
