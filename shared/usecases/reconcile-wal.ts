import type { ReconcileCursor, WalCatalog, WalTimelineSummary } from '../ports/wal-catalog';
import type { ObjectInfo, Storage } from '../ports/storage';
import { inPool } from '../domain/in-pool';
import { firstFolder, folderOf, folderOfRange, heldByRanges, nextFolder } from '../domain/wal/folders';
import { parseHistory } from '../domain/wal/history';
import { parseWalRecordKey, walPrefix } from '../domain/wal/keys';
import { DEFAULT_SEGMENT_SIZE, parseWalName } from '../domain/wal/names';
import { rangesOfSegments, type WalRange } from '../domain/wal/ranges';
import { parseWalRecord, type WalRecord } from '../domain/wal/record';
import { asStrongboxError, ObjectNotFoundError, StrongboxError } from '../errors';
import { deletedByMark, isWalMark, type WalRetentionMark } from '../domain/retention';
import type { AlertPublisher, Clock, Log } from '../ports';
import { assertDescribes } from './index-wal';
import { readArchivedHistory } from './wal-history';
import type { WalCodec } from '../ports/wal-codec';
import { checkDeferredWal, isDeferred } from './wal-archive/deferred-check';

/**
 * WAL reconciliation (issue 16, point 2): the WAL records in storage are the truth; a
 * record whose ObjectCreated event was lost (after Lambda's retries, or a notification
 * misconfigured) is found here and indexed, so no event lost leaves a permanent false gap.
 *
 * Incremental: each database and timeline has a cursor in the catalog (the first WAL
 * folder not yet settled). A run lists folder after folder from the cursor — a folder is
 * one timeline's 4 GiB of WAL, at most 256 segments with their records, one or two
 * listing pages — up to the newest folder the catalog knows and on until the first empty
 * one after it. A record whose segment the catalog's ranges hold is known without a read;
 * any other (a lost event, a `.partial`, a `.backup` label) is looked up (GetItem), and
 * only one the catalog lacks is read and checked as the catalog-index function checks it,
 * then recorded (recordWals, which also adds it to the ranges). A recorded segment the
 * ranges lack is added to them. The cursor moves past a folder only once every object in
 * it is older than `settleMs` (an uploader pushing concurrently writes a little out of
 * order) and every deferred record in it could be checked (an object unreadable for now is
 * checked again by the next run), and never past the newest non-empty folder (it still fills). A run stops between
 * folders at `stopAt` and the next one resumes at the cursor.
 */

export interface WalReconcileReport {
  databases: number;
  /** WAL folders listed, and WAL records seen in them. */
  folders: number;
  records: number;
  /** WAL files indexed that the catalog lacked (their event was lost). */
  repaired: number;
  /** The first REPAIRED_LISTED of them. */
  repairedFiles: Array<{ database: string; name: string }>;
  /** Recorded segments added to the ranges they were missing from. */
  rangesRepaired: number;
  skipped: Array<{ key: string; reason: string }>;
  skippedCount: number;
  /** False when the run stopped at `stopAt` before the end: the next run resumes at the cursors. */
  complete: boolean;
}

export interface ReconcileDeps {
  storage: Storage;
  walCatalog: WalCatalog;
  log: Log;
  clock: Clock;
  alerts: AlertPublisher;
  /**
   * Decodes stored objects, for records whose decoded check was deferred (docs/wal.md, "The
   * deferred decoded check"): without it such a record is skipped, never indexed unchecked.
   */
  codec?: WalCodec;
}

export interface ReconcileOptions {
  databases: readonly string[];
  /** Stop between folders once the clock passes this time (epoch ms); the cursors keep the place. */
  stopAt?: number;
  /** Objects younger than this keep the cursor at their folder (default 1 hour). */
  settleMs?: number;
  /** Databases reconciled at once (default 4). */
  concurrency?: number;
}

const REPAIRED_LISTED = 100;
const SKIPPED_LISTED = 100;
export const DEFAULT_SETTLE_MS = 3_600_000;

/** Reconciles the WAL index of each database with storage. Throws StorageError / CatalogError. */
export async function reconcileWal(deps: ReconcileDeps, options: ReconcileOptions): Promise<WalReconcileReport> {
  const report: WalReconcileReport = { databases: 0, folders: 0, records: 0, repaired: 0, repairedFiles: [], rangesRepaired: 0, skipped: [], skippedCount: 0, complete: true };
  await inPool(options.databases, options.concurrency ?? 4, async (database) => {
    const before = report.repaired;
    const firstRepaired = report.repairedFiles.length;
    await reconcileDatabase(deps, options, report, database);
    report.databases += 1;
    const repaired = report.repaired - before;
    if (repaired > 0) await alertRepaired(deps, database, repaired, report.repairedFiles[firstRepaired]?.name);
  });
  deps.log.info('WAL reconciled with storage', { databases: report.databases, folders: report.folders, records: report.records, repaired: report.repaired, rangesRepaired: report.rangesRepaired, skipped: report.skippedCount, complete: report.complete });
  return report;
}

function skip(deps: ReconcileDeps, report: WalReconcileReport, key: string, reason: string): void {
  report.skippedCount += 1;
  if (report.skipped.length < SKIPPED_LISTED) report.skipped.push({ key, reason });
  deps.log.warn('WAL record not indexed by reconciliation', { key, reason });
}

async function collect(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = [];
  for await (const object of storage.list(prefix)) objects.push(object);
  return objects;
}

async function reconcileDatabase(deps: ReconcileDeps, options: ReconcileOptions, report: WalReconcileReport, database: string): Promise<void> {
  const prefix = walPrefix(database);
  // History files: one per timeline, always listed whole.
  const histories = await collect(deps.storage, `${prefix}history/`);
  const known = new Set((await deps.walCatalog.listHistories(database)).map((record) => record.name));
  await repairFolder(deps, report, database, histories, (name) => known.has(name.name));
  const summaries = await deps.walCatalog.timelines(database);
  const timelines = new Set(summaries.map((summary) => summary.timeline));
  for (const object of histories) {
    const name = parseWalRecordKey(object.key)?.name;
    if (name) timelines.add(parseWalName(name).timeline);
  }
  if (timelines.size === 0) timelines.add(1);
  for (const timeline of [...timelines].sort((a, b) => a - b)) {
    if (!report.complete) return;
    await reconcileTimeline(deps, options, report, database, timeline, summaries.find((summary) => summary.timeline === timeline));
  }
}

/** Where a timeline's walk starts without a cursor: its first range, else where its history says it began. */
async function startFolder(deps: ReconcileDeps, database: string, timeline: number, ranges: readonly WalRange[], segmentSize: number): Promise<string> {
  if (ranges[0]) return folderOfRange(ranges[0], segmentSize);
  if (timeline === 1) return firstFolder(1);
  try {
    const text = await readArchivedHistory(deps, database, timeline);
    const begin = text === undefined ? undefined : parseHistory(text, timeline).at(-1)?.switchLsn;
    return firstFolder(timeline, begin ?? 0n);
  } catch (error) {
    deps.log.warn('reconciliation: a timeline history cannot be read: its walk starts at its first log', { database, timeline, reason: asStrongboxError(error).message });
    return firstFolder(timeline);
  }
}

async function reconcileTimeline(deps: ReconcileDeps, options: ReconcileOptions, report: WalReconcileReport, database: string, timeline: number, summary: WalTimelineSummary | undefined): Promise<void> {
  const ranges = await deps.walCatalog.listRanges(database, timeline);
  const segmentSize = ranges.find((range) => range.segmentSize)?.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const cursor = await deps.walCatalog.getReconcileCursor(database, timeline);
  const start = cursor?.folder ?? (await startFolder(deps, database, timeline, ranges, segmentSize));
  const newestKnown = summary ? folderOf(summary.highestName) : start;
  const settled = deps.clock().getTime() - (options.settleMs ?? DEFAULT_SETTLE_MS);
  // The cursor: the first folder not settled yet, else the newest non-empty one (it still fills).
  let unsettled: string | undefined;
  let newestNonEmpty: string | undefined;
  let repaired = 0;
  let folder: string | undefined = start;
  while (folder !== undefined) {
    if (options.stopAt !== undefined && deps.clock().getTime() >= options.stopAt) {
      report.complete = false;
      break;
    }
    const objects = await collect(deps.storage, `${walPrefix(database)}${folder}/`);
    report.folders += 1;
    if (objects.length === 0 && folder >= newestKnown) break;
    const unchecked = { left: false };
    repaired += await repairFolder(deps, report, database, objects, (name) => heldByRanges(ranges, name), segmentSize, unchecked);
    if (objects.length > 0) {
      newestNonEmpty = folder;
      // A deferred record whose check could not run (its object unreadable for now) keeps the cursor here: the next run checks it again.
      if (unsettled === undefined && (unchecked.left || objects.some((object) => object.lastModified.getTime() >= settled))) unsettled = folder;
    }
    folder = nextFolder(folder);
  }
  const resumeAt = unsettled ?? newestNonEmpty ?? start;
  if (resumeAt !== cursor?.folder || repaired > 0) {
    const at = deps.clock().toISOString();
    const next: ReconcileCursor = { timeline, folder: resumeAt, at, ...(repaired > 0 ? { lastRepairedAt: at } : cursor?.lastRepairedAt ? { lastRepairedAt: cursor.lastRepairedAt } : {}), repairedTotal: (cursor?.repairedTotal ?? 0) + repaired };
    await deps.walCatalog.putReconcileCursor(database, next);
  }
}

/**
 * Indexes the records among `objects` (one WAL folder) that the catalog lacks. `held`
 * says which files the catalog is known to hold without a read. Returns how many were indexed.
 */
async function repairFolder(
  deps: ReconcileDeps,
  report: WalReconcileReport,
  database: string,
  objects: readonly ObjectInfo[],
  held: (name: ReturnType<typeof parseWalName>) => boolean,
  segmentSize = DEFAULT_SEGMENT_SIZE,
  unchecked: { left: boolean } = { left: false },
): Promise<number> {
  const sizes = new Map(objects.map((object) => [object.key, object.size]));
  const missing: WalRecord[] = [];
  const unranged: Array<{ name: string; archivedAt: string }> = [];
  // What a retention run is deleting now is left alone: re-adding it (to the ranges, or
  // indexing a record it is about to delete) could outlive its cut and claim a deleted segment.
  let mark: WalRetentionMark | null | undefined;
  const deleting = async (name: ReturnType<typeof parseWalName>): Promise<boolean> => {
    if (mark === undefined) {
      const stored = (await deps.walCatalog.readMeta(database)).retentionMark;
      mark = isWalMark(stored) ? stored : null;
    }
    return mark !== null && deletedByMark(mark, name.timeline, name.segment ?? name.name);
  };
  for (const object of objects) {
    const target = parseWalRecordKey(object.key);
    if (!target || target.database !== database) continue;
    report.records += 1;
    const name = parseWalName(target.name, segmentSize);
    if (held(name) || (name.kind !== 'history' && (await deleting(name)))) continue;
    const recorded = await deps.walCatalog.getWal(database, target.name);
    if (recorded) {
      if (name.kind === 'segment') unranged.push({ name: target.name, archivedAt: recorded.archivedAt });
      continue;
    }
    let checking = false;
    try {
      const record = parseWalRecord((await deps.storage.getBytes(object.key)).toString('utf8'), object.key);
      assertDescribes(record, target, object.key);
      const stored = sizes.get(record.objectKey);
      if (stored !== record.storedSize) throw new StrongboxError('WAL_OBJECT_INVALID', stored === undefined ? `its bytes ${record.objectKey} are missing` : `its bytes are ${stored} bytes, the record declares ${record.storedSize}`);
      // The watchdog of the deferred decoded check: a record whose event (and so its check) never came is checked here.
      checking = isDeferred(record);
      if (checking && (await checkDeferredWal(deps, object.key, record)) === 'damaged') {
        skip(deps, report, object.key, `its object ${record.objectKey} does not decode to what the record declares: withdrawn as damaged (WAL_DAMAGED)`);
        continue;
      }
      missing.push(record);
    } catch (error) {
      // Gone since the listing (retention): nothing to index.
      if (error instanceof ObjectNotFoundError) continue;
      if (checking) unchecked.left = true;
      skip(deps, report, object.key, asStrongboxError(error).message);
    }
  }
  if (unranged.length > 0) {
    await deps.walCatalog.addRanges(database, rangesOfSegments(unranged, segmentSize), segmentSize);
    report.rangesRepaired += unranged.length;
    deps.log.warn('reconciliation added recorded WAL segments to the ranges', { database, first: unranged[0]!.name, segments: unranged.length });
  }
  if (missing.length === 0) return 0;
  const outcome = await deps.walCatalog.recordWals(missing, deps.clock().toISOString());
  for (const conflict of outcome.conflicts) skip(deps, report, `wal/${database}/…/${conflict.name}.json`, `the catalog records ${conflict.name} with SHA-256 ${conflict.recorded}, storage with ${conflict.offered}`);
  for (const record of missing) {
    if (outcome.conflicts.some((conflict) => conflict.name === record.name)) continue;
    if (report.repairedFiles.length < REPAIRED_LISTED) report.repairedFiles.push({ database, name: record.name });
    deps.log.warn('WAL file indexed by reconciliation: its ObjectCreated event was lost', { database, segment: record.name, kind: record.kind, timeline: record.timeline });
  }
  report.repaired += outcome.created;
  return outcome.created;
}


async function alertRepaired(deps: ReconcileDeps, database: string, repaired: number, first: string | undefined): Promise<void> {
  await deps.alerts.publish({
    type: 'WAL_EVENTS_LOST',
    severity: 'SEV3',
    message: `reconciliation indexed ${repaired} WAL file(s) of database ${database} that were archived but missing from the catalog (their ObjectCreated events were lost)${first ? `, the first ${first}` : ''}: nothing is missing now`,
    hint: 'if it repeats, check the bucket notification of wal/ records (the wal-record-created topic) and the catalogIndex function: its errors and the failures queue',
    database,
    at: deps.clock().toISOString(),
  });
}
