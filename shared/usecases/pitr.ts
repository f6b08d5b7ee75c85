import type { Readable } from 'node:stream';
import type { Catalog } from '../ports/catalog';
import type { RestorePoint, WalCatalog } from '../ports/wal-catalog';
import type { Storage } from '../ports/storage';
import type { BackupEntry } from '../domain/backup';
import { asStrongboxError, StrongboxError } from '../errors';
import { isOnPath, parseHistory, timelinePath, type HistoryEntry } from '../domain/wal/history';
import { defaultTimeline, listTimelines } from '../domain/wal/live-timeline';
import { describeGaps } from '../domain/wal/continuity';
import { walRecordKey } from '../domain/wal/keys';
import { DEFAULT_SEGMENT_SIZE, formatLsn, historyName, parseLsn, segnoOfLsn } from '../domain/wal/names';
import { coverageGaps, pathCoverage, type WalRange } from '../domain/wal/ranges';
import { planPitr, type ArchiveView, type BaseCandidate, type PitrPlan, type ResolvedTarget } from '../domain/wal/pitr-plan';
import { recoveryTargetSettings, type PitrTarget } from '../domain/wal/pitr-target';
import type { AlertPublisher, Clock, Log } from '../ports';
import { markBackupDamaged, provesDamage } from './backup-damaged';
import { liveTimelineOf } from './live-timeline';
import { readArchivedHistory } from './wal-history';
import { storageChecks } from '../domain/wal/storage-checks';

export { STORAGE_SAMPLE, storageChecks } from '../domain/wal/storage-checks';

/**
 * Point-in-time recovery: plan from the catalog (base backup, WAL continuity), then —
 * only if the plan holds — unpack the base backup into a new data directory, write the
 * recovery settings and, on request, start the server and wait for it to promote.
 */

export interface PitrDeps {
  catalog: Catalog;
  walCatalog: WalCatalog;
  storage: Storage;
  log: Log;
}

/** The server-side steps (the recovery adapter), injected so the plan can be tested alone. */
export interface RecoveryServer {
  prepareEmptyDataDir(dataDir: string): Promise<void>;
  /** Throws CHECKSUM_MISMATCH when the stored bytes are not the manifest's (see recovery.ts). */
  unpackBaseBackup(options: { body: Readable; compression: 'zstd' | 'none'; dataDir: string; key: string; sha256: string; bytes?: number; backupId?: string }): Promise<void>;
  writeRecoveryConfig(dataDir: string, settings: Record<string, string>): Promise<void>;
  socketDirFor(dataDir: string): string;
  startAndAwaitPromotion(options: { dataDir: string; port: number; timeoutMs: number }): Promise<{ seconds: number; logFile: string; timeline?: number }>;
}

export interface PitrRequest {
  database: string;
  target: PitrTarget;
  exclusive: boolean;
  /** The new data directory (must be empty or absent). */
  pgdata: string;
  /** The commands PostgreSQL runs: Strongbox's wal-fetch and wal-push for this database. */
  restoreCommand: string;
  archiveCommand: string;
  /** Follow this timeline (default: the live server's, see planRecovery). */
  timeline?: number;
  /**
   * True only when the user confirmed that the recovered cluster becomes the primary: it
   * then archives its new timeline into this database's archive. False (a copy, a drill):
   * it archives nothing, so the primary's history stays its own.
   */
  archive: boolean;
  start: boolean;
  port: number;
  timeoutMs: number;
}

export interface PitrResult {
  plan: PitrPlan;
  pgdata: string;
  settings: Record<string, string>;
  started?: { seconds: number; port: number; logFile: string; timeline?: number };
  /** Set when the promoted cluster was recorded as the live server (`archive`, i.e. --as-primary). */
  recordedLive?: { timeline: number; at: string };
}

/** A VERIFIED base backup's part for the plan, or undefined when the entry cannot serve. */
function candidateOf(entry: BackupEntry): BaseCandidate | undefined {
  if (entry.kind !== 'base' || entry.state !== 'VERIFIED' || entry.deleting || !entry.base || !entry.finishedAt) return undefined;
  return {
    id: entry.id,
    startLsn: parseLsn(entry.base.startLsn),
    stopLsn: parseLsn(entry.base.stopLsn),
    timeline: entry.base.timeline,
    finishedAt: entry.finishedAt,
    walIncluded: entry.base.walIncluded,
  };
}

async function readHistory(deps: PitrDeps, database: string, timeline: number): Promise<HistoryEntry[]> {
  const text = await readArchivedHistory(deps, database, timeline);
  if (text === undefined) {
    throw new StrongboxError('WAL_GAP', `timeline ${timeline} has archived segments but its history file ${historyName(timeline)} is not archived`, 'recovery cannot follow the timeline without it: copy it from the promoted server\'s pg_wal with `strongbox wal-push`');
  }
  return parseHistory(text, timeline);
}

/**
 * The archive as the catalog records it, along the path to `timeline`: the archived ranges
 * of the path's timelines (one Query each; items by gaps, not by segments), each gap the
 * ranges show from `fromSegno` on checked against the segment records in its span (a
 * record a range missed counts; nothing is written: this plan may only read), and the
 * times of the range ends a timeline switch cuts (one GetItem each).
 */
async function archiveView(deps: PitrDeps, database: string, fromSegno: bigint, timeline: number): Promise<ArchiveView> {
  const path = timelinePath(timeline, timeline === 1 ? [] : await readHistory(deps, database, timeline));
  const ranges: WalRange[] = [];
  for (const stretch of path) ranges.push(...(await deps.walCatalog.listRanges(database, stretch.timeline)));
  const segmentSize = await segmentSizeOf(deps, database, ranges);
  let covered = pathCoverage(path, ranges, segmentSize);
  const highest = covered.at(-1)?.to;
  if (highest !== undefined && highest >= fromSegno) {
    for (const gap of coverageGaps(path, covered, fromSegno, highest, segmentSize).slice(0, GAPS_CHECKED)) {
      ranges.push(...(await deps.walCatalog.recordedRuns(database, gap.timeline, gap.from, gap.to, segmentSize)));
    }
    covered = pathCoverage(path, ranges, segmentSize);
  }
  const endTimes: Record<string, string> = {};
  for (const end of covered.flatMap((run) => [run.first, run.last])) {
    if (end.archivedAt !== undefined || end.name in endTimes) continue;
    const record = await deps.walCatalog.getWal(database, end.name);
    if (record) endTimes[end.name] = record.archivedAt;
  }
  return { path, ranges, endTimes, segmentSize };
}

/** At most this many gaps are checked against the segment records while planning (each costs a Query). */
const GAPS_CHECKED = 100;

/** The archive's segment size: as its ranges say, else the size of the record at a range's end (every segment of a database has one size). */
async function segmentSizeOf(deps: PitrDeps, database: string, ranges: readonly WalRange[]): Promise<number> {
  const stated = ranges.find((range) => range.segmentSize !== undefined)?.segmentSize;
  if (stated !== undefined) return stated;
  // No range says (none yet, or written before ranges kept it): the newest segment's record does.
  const end = ranges.at(-1)?.last.name ?? (await deps.walCatalog.timelines(database)).at(-1)?.highestName;
  const record = end ? await deps.walCatalog.getWal(database, end) : undefined;
  return record?.kind === 'segment' || record?.kind === 'partial' ? record.size : DEFAULT_SEGMENT_SIZE;
}

/**
 * The timeline a recovery follows: the one asked for (it must have archived WAL), else the
 * live server's (never a recovered copy's, however new), else the newest archived one.
 */
async function chooseTimeline(deps: PitrDeps, database: string, bases: readonly BackupEntry[], asked: number | undefined): Promise<{ timeline: number; archived: number[]; warnings: string[] }> {
  const archived = (await deps.walCatalog.timelines(database)).map((t) => t.timeline).sort((a, b) => a - b);
  if (asked !== undefined) {
    if (!archived.includes(asked)) {
      throw new StrongboxError('PITR_UNKNOWN_TIMELINE', `timeline ${asked} of ${database} has no archived WAL`, archived.length ? `the archive has ${archived.length === 1 ? 'timeline' : 'timelines'} ${listTimelines(archived)}: give one of them to --timeline, or leave --timeline out to follow the live server's` : 'nothing is archived yet: check archiving with `strongbox doctor`');
    }
    return { timeline: asked, archived, warnings: [] };
  }
  const live = liveTimelineOf(await deps.walCatalog.getArchiveStatus(database), bases);
  const choice = defaultTimeline({ archived, ...(live ? { live } : {}) });
  return { timeline: choice.timeline, archived, warnings: choice.warning ? [choice.warning] : [] };
}

/**
 * Plans the recovery from the catalog alone. Throws PITR_UNKNOWN_RESTORE_POINT for a
 * name the catalog does not know, PITR_UNKNOWN_TIMELINE / PITR_TARGET_OFF_TIMELINE when
 * the timeline asked for has no archived WAL or does not hold the restore point, and what
 * planPitr throws (PITR_NO_BASE_BACKUP, WAL_GAP, PITR_TARGET_NOT_ARCHIVED).
 */
export async function planRecovery(deps: PitrDeps, database: string, target: PitrTarget, timeline?: number): Promise<{ plan: PitrPlan; entry: BackupEntry }> {
  let resolved: ResolvedTarget = target;
  let point: RestorePoint | undefined;
  if (target.type === 'name') {
    point = await deps.walCatalog.getRestorePoint(database, target.name);
    if (!point) {
      throw new StrongboxError('PITR_UNKNOWN_RESTORE_POINT', `restore point "${target.name}" of ${database} is not in the catalog`, 'list them with `strongbox list --restore-points`, or give --lsn / --time instead');
    }
    resolved = { ...target, lsn: parseLsn(point.lsn) };
  }
  const all = await deps.catalog.listByDatabase(database, { kind: 'base' });
  const entries = all.filter((entry) => candidateOf(entry) !== undefined);
  const bases = entries.map((entry) => candidateOf(entry)!);
  const oldestStart = bases.reduce<bigint | undefined>((min, base) => (min === undefined || base.startLsn < min ? base.startLsn : min), undefined);
  const fromSegno = oldestStart === undefined ? 0n : segnoOfLsn(oldestStart);
  const choice = await chooseTimeline(deps, database, all, timeline);
  let archive = await archiveView(deps, database, fromSegno, choice.timeline);
  if (point && !isOnPath(archive.path, point.timeline, parseLsn(point.lsn))) {
    const where = `restore point "${point.name}" was made on timeline ${point.timeline} at ${point.lsn}`;
    if (timeline !== undefined || !choice.archived.includes(point.timeline)) {
      const left = archive.path.find((stretch) => stretch.timeline === point!.timeline)?.endLsn;
      throw new StrongboxError(
        'PITR_TARGET_OFF_TIMELINE',
        `${where}, which timeline ${choice.timeline} ${left !== undefined ? `left at ${formatLsn(left)}, before it` : 'does not pass through'}`,
        choice.archived.includes(point.timeline) ? `recover along the timeline it was made on: --timeline ${point.timeline}` : `timeline ${point.timeline} has no archived WAL: choose another target`,
      );
    }
    choice.warnings.push(`${where}, off timeline ${choice.timeline}: following timeline ${point.timeline}`);
    choice.timeline = point.timeline;
    archive = await archiveView(deps, database, fromSegno, point.timeline);
  }
  const others = choice.archived.filter((t) => t !== choice.timeline);
  const plan = planPitr({ target: resolved, bases, archive, otherTimelines: others });
  plan.warnings.unshift(...choice.warnings);
  await assertStored(deps, database, plan, archive);
  return { plan, entry: entries.find((entry) => entry.id === plan.base.id)! };
}

/** How many storage HEADs run at once while checking that the plan's WAL is stored. */
const HEAD_CONCURRENCY = 16;
/**
 * The catalog says the WAL is there; storage must agree (an object deleted behind the
 * catalog's back would stop recovery half-way). Looks for the records `storageChecks`
 * chooses. Throws WAL_GAP naming what is missing.
 */
async function assertStored(deps: PitrDeps, database: string, plan: PitrPlan, archive: ArchiveView): Promise<void> {
  const wanted = storageChecks(plan, archive);
  const missing: string[] = [];
  for (let index = 0; index < wanted.length; index += HEAD_CONCURRENCY) {
    const batch = wanted.slice(index, index + HEAD_CONCURRENCY);
    const heads = await Promise.all(batch.map((name) => deps.storage.head(walRecordKey(database, name))));
    batch.forEach((name, i) => heads[i] === undefined && missing.push(name));
  }
  deps.log.info('pitr WAL checked in storage', { database, segments: plan.wal.count, checked: wanted.length, missing: missing.length });
  if (missing.length > 0) {
    throw new StrongboxError(
      'WAL_GAP',
      `the catalog lists WAL that storage no longer holds: ${describeGaps(missing, { segmentSize: archive.segmentSize })}${wanted.length < plan.wal.count ? ` (${wanted.length} of the plan's ${plan.wal.count} segments were checked)` : ''}`,
      'recovery would stop there: choose a target before it, re-archive the segments from pg_wal if the server still has them, then run `strongbox catalog rebuild`',
    );
  }
}

/**
 * The settings appended to the recovered cluster's postgresql.auto.conf: the target,
 * Strongbox's restore_command, its own port and socket, and either Strongbox's
 * archive_command (the promoted cluster is the new primary and archives its new timeline)
 * or no archiving at all.
 */
export function recoverySettings(request: PitrRequest, socketDir: string): Record<string, string> {
  return {
    ...recoveryTargetSettings(request.target, request.exclusive, request.timeline),
    restore_command: request.restoreCommand,
    ...(request.archive ? { archive_mode: 'on', archive_command: request.archiveCommand } : { archive_mode: 'off', archive_command: '' }),
    port: String(request.port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socketDir,
  };
}

/**
 * Plans, then unpacks the base backup (its SHA-256 verified while streaming), writes the
 * recovery settings and, with `start`, starts the server and waits for promotion.
 * Nothing is written when the plan fails; a failed unpack leaves the folder empty. A base
 * backup whose stored bytes prove damaged (CHECKSUM_MISMATCH, OBJECT_NOT_FOUND) becomes
 * FAILED with an alert (backup-damaged.ts) before the error is thrown.
 */
export async function runPitr(deps: PitrDeps & { server: RecoveryServer; clock: Clock; alerts: AlertPublisher }, request: PitrRequest): Promise<PitrResult> {
  const { plan, entry } = await planRecovery(deps, request.database, request.target, request.timeline);
  // Always the planned timeline, never PostgreSQL's `latest`: a copy's timeline in the
  // archive must not lead this recovery away from the one the plan proved continuous.
  const settings = recoverySettings({ ...request, timeline: plan.timelines.at(-1)! }, deps.server.socketDirFor(request.pgdata));
  deps.log.info('pitr planned', { database: request.database, base: plan.base.id, target: plan.target, wal: plan.wal });
  await deps.server.prepareEmptyDataDir(request.pgdata);
  const compression = entry.compression === 'zstd' ? 'zstd' : 'none';
  try {
    const body = await deps.storage.get(entry.key);
    await deps.server.unpackBaseBackup({ body, compression, dataDir: request.pgdata, key: entry.key, sha256: entry.sha256 ?? '', backupId: entry.id, ...(entry.bytes !== undefined ? { bytes: entry.bytes } : {}) });
  } catch (error) {
    const failure = asStrongboxError(error);
    if (!provesDamage(failure)) throw failure;
    // The plan chose a backup that cannot serve: no later plan may choose it again.
    await markBackupDamaged(deps, entry, failure, 'at point-in-time recovery');
    throw new StrongboxError(failure.code, failure.message, `${failure.hint}. It is now FAILED: run the recovery again and it plans from an older base backup, if one reaches the target`, { cause: failure });
  }
  await deps.server.writeRecoveryConfig(request.pgdata, settings);
  deps.log.info('pitr data directory ready', { pgdata: request.pgdata });
  if (!request.start) return { plan, pgdata: request.pgdata, settings };
  const started = await deps.server.startAndAwaitPromotion({ dataDir: request.pgdata, port: request.port, timeoutMs: request.timeoutMs });
  const result: PitrResult = { plan, pgdata: request.pgdata, settings, started: { ...started, port: request.port } };
  if (request.archive && started.timeline !== undefined) {
    // The user confirmed this is the new primary: later recoveries and the status follow it
    // now, not only after the next WAL checkpoint reads it from the server.
    const at = deps.clock().toISOString();
    await deps.walCatalog.putArchiveStatus(request.database, { measuredAt: at, timeline: started.timeline, timelineSource: 'promotion' });
    deps.log.info('pitr recorded the promoted cluster as the live server', { database: request.database, timeline: started.timeline });
    result.recordedLive = { timeline: started.timeline, at };
  }
  return result;
}
