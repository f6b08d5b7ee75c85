import { walDamagedKey } from '../../domain/wal/keys';
import { walNameOf, walFileRef } from '../../domain/wal/file-ref';
import { DEFAULT_SEGMENT_SIZE, parseLsn } from '../../domain/wal/names';
import type { WalRecord } from '../../domain/wal/record';
import { ObjectExistsError, StrongboxError } from '../../errors';
import type { AlertPublisher, Clock, Log } from '../../ports';
import type { Storage } from '../../ports/storage';
import type { WalCatalog } from '../../ports/wal-catalog';
import type { WalCodec } from '../../ports/wal-codec';
import type { WalDeclaration } from './declaration';
import type { WalTarget } from './records';
import { isContentRefusal, verifyWalContent } from './verify';

/**
 * The asynchronous half of presign mode's `complete` for a compressed object (docs/wal.md,
 * "Presign mode"). `complete` checked what it could without reading the object whole —
 * S3's verified SHA-256 of the stored bytes, the size, the first page's header decoded
 * from a prefix — and wrote the record with `decodedCheck: 'deferred'`: its decoded size
 * and SHA-256 are the host's word. Before such a record is indexed into the catalog (its
 * ObjectCreated event, the `exists` answer's indexing, reconciliation), the object is read
 * whole, decoded and checked here as bytes mode checks it before it stores anything. So the
 * catalog, from which the gap check and the PITR plan read continuity, never holds a
 * segment whose bytes were not decoded and checked.
 *
 * A record whose object does not decode to what it declares is **damaged**: the record is
 * copied to `<name>.damaged.json` (create-only: the first word stays), an alert
 * `WAL_DAMAGED` (SEV2) is published, the file is taken out of the catalog (a retry after a
 * crash may have indexed it) and the record is deleted, in that order — each step is
 * repeated safely by a retry, and a record still present is checked again by the next
 * indexer. Without its record the file counts as not archived: the gap check and the PITR
 * plan see a gap, `wal-fetch` answers "not archived". The object stays for investigation.
 */

export interface DeferredCheckDeps {
  storage: Storage;
  /** Absent (a caller not wired to decode WAL): a deferred record is refused, never trusted. */
  codec?: WalCodec | undefined;
  log: Log;
  alerts?: AlertPublisher;
  /** When given, a damaged file is also taken out of the catalog. */
  walCatalog?: WalCatalog;
  clock?: Clock;
}

/** The stored copy of a damaged record (`<name>.damaged.json`). */
export interface DamagedWalNote {
  format: 'strongbox-wal-damaged/1';
  record: WalRecord;
  code: string;
  reason: string;
  at: string;
}

/** True when the record's decoded size and SHA-256 were not checked when it was written. */
export function isDeferred(record: WalRecord): boolean {
  return record.decodedCheck === 'deferred';
}

/**
 * Reads the object of a deferred record whole and checks it (stored size and SHA-256,
 * decoded size and SHA-256, the segment header). Resolves `passed`, or `damaged` once the
 * record is quarantined as above.
 *
 * @throws what reading the object throws (ObjectNotFoundError, StorageError), CatalogError:
 *   a failure to check is never taken for damage; the caller's retry checks again.
 */
export async function checkDeferredWal(deps: DeferredCheckDeps, recordKey: string, record: WalRecord): Promise<'passed' | 'damaged'> {
  if (!deps.codec) throw new StrongboxError('CONFIG_INVALID', 'its decoded check was deferred and this caller has no WAL codec to do it', 'run `strongbox catalog rebuild` from the CLI, or wire the WAL codec into the function (a Strongbox bug)');
  const target = targetOfRecord(record, recordKey);
  try {
    await verifyWalContent(deps.codec, target, await deps.storage.get(record.objectKey));
  } catch (error) {
    if (!isContentRefusal(error)) throw error;
    await quarantine(deps, recordKey, record, error as StrongboxError);
    return 'damaged';
  }
  deps.log.info('WAL file decoded and checked after its record', { database: record.database, segment: record.name, size: record.size });
  return 'passed';
}

async function quarantine(deps: DeferredCheckDeps, recordKey: string, record: WalRecord, problem: StrongboxError): Promise<void> {
  const at = (deps.clock ?? (() => new Date()))().toISOString();
  const note: DamagedWalNote = { format: 'strongbox-wal-damaged/1', record, code: problem.code, reason: problem.message, at };
  try {
    await deps.storage.putBytes(walDamagedKey(record.database, record.name), `${JSON.stringify(note, null, 2)}\n`, { contentType: 'application/json', createOnly: true });
  } catch (error) {
    if (!(error instanceof ObjectExistsError)) throw error;
  }
  const damaged = new WalDamagedError(record, problem);
  deps.log.error('WAL file damaged: record withdrawn', { database: record.database, segment: record.name, code: problem.code, objectKey: record.objectKey });
  await deps.alerts?.publish({ type: 'WAL_DAMAGED', severity: 'SEV2', message: damaged.message, hint: damaged.hint, database: record.database, code: damaged.code, at });
  // Out of the catalog before the record goes: a crash between leaves a record the next indexer checks (and finds damaged) again.
  await deps.walCatalog?.deleteWalRecords(record.database, [record.name]);
  await deps.storage.delete([recordKey]);
}

/** WAL_DAMAGED: what the alert of a damaged file says (it is published, not thrown: the check itself succeeded). */
export class WalDamagedError extends StrongboxError {
  constructor(record: WalRecord, problem: StrongboxError) {
    super(
      'WAL_DAMAGED',
      `WAL file ${record.name} of database ${record.database} is damaged: its stored object ${record.objectKey} does not decode to the file its record declares (${problem.message}); its record was withdrawn, so it no longer counts as archived`,
      'the archive has a gap at this file: take a new base backup now (`strongbox backup --type base`); if the host still has the file in pg_wal, push it again (`strongbox wal-push`). The host\'s compressor is suspect: compare its output with `zstd -d`',
    );
  }
}

/** The file a record describes, as the checks of verify.ts take it: the record's word is the declaration. */
function targetOfRecord(record: WalRecord, recordKey: string): WalTarget {
  const segmentSize = record.startLsn !== undefined && record.endLsn !== undefined ? Number(parseLsn(record.endLsn) - parseLsn(record.startLsn)) : undefined;
  const declaration: WalDeclaration = {
    size: record.size,
    sha256: record.sha256,
    storedSize: record.storedSize,
    storedSha256: record.storedSha256,
    compression: record.compression,
    ...(record.systemId !== undefined ? { systemId: record.systemId } : {}),
    ...(segmentSize !== undefined ? { segmentSize } : {}),
  };
  const file = walFileRef(record.database, record.name);
  const wal = walNameOf(file, segmentSize ?? DEFAULT_SEGMENT_SIZE);
  return { database: record.database, name: record.name, declaration, wal, objectKey: record.objectKey, recordKey };
}
