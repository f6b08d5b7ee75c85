import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../ports/catalog';
import type { WalCatalog } from '../ports/wal-catalog';
import type { BackupEntry } from '../domain/backup';
import { describeGapRanges, type GapRange } from '../domain/wal/continuity';
import { isOnPath, parseHistory, timelinePath, type TimelineSegment } from '../domain/wal/history';
import { parseLsn, parseWalName, segnoOfLsn } from '../domain/wal/names';
import { coverageGaps, gapSegmentCount, namedGaps, pathCoverage, type SegnoGap, type WalRange } from '../domain/wal/ranges';
import type { Log } from '../ports';

/** What a base backup entry says about its WAL (the `base` part of a base backup's entry). */
interface BaseWal {
  startLsn: string;
  timeline: number;
}

/** The archive's continuity from the newest VERIFIED base backup up to a switched segment. */
export interface GapCheck {
  /** False when there was nothing to check against (see `warnings`). */
  checked: boolean;
  baseBackupId?: string;
  /** Runs of segments PostgreSQL archived (at or before pg_stat_archiver's last) that the catalog lacks. */
  missing: GapRange[];
  /** How many segments `missing` holds. */
  missingCount: number;
  /** `missing` for people (ranges). */
  described: string;
  /** Newer segments not archived yet: lag, not a hole. */
  pending: GapRange[];
  warnings: string[];
  /** How much of the catalog the check read: range items, and segment records read to check a gap. */
  reads: { ranges: number; records: number };
}

export interface GapDeps {
  catalog: Catalog;
  walCatalog: WalCatalog;
  log: Log;
  readHistory?: (database: string, timeline: number) => Promise<string | undefined>;
}

function baseWal(entry: BackupEntry): BaseWal | undefined {
  const base = (entry as BackupEntry & { base?: Partial<BaseWal> }).base;
  return base && typeof base.startLsn === 'string' && typeof base.timeline === 'number' ? { startLsn: base.startLsn, timeline: base.timeline } : undefined;
}

/** At most this many gaps are checked against the segment records in one run (each costs a Query). */
const GAPS_CHECKED = 100;

/**
 * Finds the segments a recovery from the newest VERIFIED base backup up to `switched` needs
 * and the WAL catalog lacks, from the archived ranges of the timelines on the way (their
 * number depends on the gaps, not on the segments). Each gap the ranges show is checked
 * against the segment records in its span (a record a range missed — a writer died
 * between the two writes — is put back into the ranges), and the ranges' items are
 * compacted. A segment counts as missing only when PostgreSQL already archived it (at or
 * before `archivedThrough`, pg_stat_archiver's last); after one re-read `graceMs` later,
 * since the catalog indexes a record a few seconds after it is written. Without a base
 * backup, or across a timeline switch without its history, it checks nothing and says why
 * in `warnings`.
 *
 * @throws CatalogError when a catalog cannot be read; WAL_HISTORY_INVALID for a bad history.
 */
export async function findArchiveGap(
  deps: GapDeps,
  request: { database: string; switched: { lsn: string; segment: string; timeline: number }; segmentSize: number; archivedThrough?: string; graceMs?: number },
): Promise<GapCheck> {
  const { database, switched, segmentSize } = request;
  const reads = { ranges: 0, records: 0 };
  const unchecked = (warning: string, baseBackupId?: string): GapCheck => ({ checked: false, ...(baseBackupId ? { baseBackupId } : {}), missing: [], missingCount: 0, described: '', pending: [], warnings: [warning], reads });
  const bases = await deps.catalog.listByDatabase(database, { kind: 'base' });
  const newest = bases.find((entry) => entry.state === 'VERIFIED' && !entry.deleting && baseWal(entry) !== undefined);
  if (!newest) return unchecked(`no VERIFIED base backup of ${database} yet: the archive's continuity cannot be checked (take one: point-in-time recovery needs it)`);
  const base = baseWal(newest)!;

  let path: TimelineSegment[] = [{ timeline: switched.timeline, beginLsn: 0n }];
  if (base.timeline !== switched.timeline) {
    const text = await deps.readHistory?.(database, switched.timeline);
    if (text === undefined) return unchecked(`timeline ${switched.timeline} began after base backup ${newest.id} (timeline ${base.timeline}) and its history file is not at hand: continuity not checked`, newest.id);
    path = timelinePath(switched.timeline, parseHistory(text, switched.timeline));
  }
  if (!isOnPath(path, base.timeline, parseLsn(base.startLsn))) {
    return unchecked(`base backup ${newest.id} is not on the way to timeline ${switched.timeline}: take a new base backup`, newest.id);
  }

  // A base backup that began after the switch (it ran meanwhile) needs nothing before it yet.
  const startLsn = parseLsn(base.startLsn);
  const endLsn = parseLsn(switched.lsn) - 1n;
  const span = endLsn < startLsn ? undefined : { from: segnoOfLsn(startLsn, segmentSize), to: segnoOfLsn(endLsn, segmentSize) };
  const through = request.archivedThrough === undefined ? undefined : /^[0-9A-F]{24}/.exec(request.archivedThrough)?.[0];
  const timelines = [...new Set(path.map((stretch) => stretch.timeline))];
  let gaps = span ? await missingAlong(deps.walCatalog, database, path, timelines, span, segmentSize, reads) : [];
  if (gaps.some((gap) => splitAt(gap, through, segmentSize).archived) && (request.graceMs ?? 5_000) > 0) {
    await sleep(request.graceMs ?? 5_000);
    gaps = await missingAlong(deps.walCatalog, database, path, timelines, span!, segmentSize, reads);
  }
  const holes: SegnoGap[] = [];
  const waiting: SegnoGap[] = [];
  for (const gap of gaps) {
    const { archived, pending } = splitAt(gap, through, segmentSize);
    if (archived) holes.push(archived);
    if (pending) waiting.push(pending);
  }
  const missing = namedGaps(holes, segmentSize);
  const pending = namedGaps(waiting, segmentSize);
  const missingCount = gapSegmentCount(missing);
  const pendingCount = gapSegmentCount(pending);
  const described = missing.length ? describeGapRanges(missing) : '';
  deps.log.info('WAL continuity checked', { database, baseBackupId: newest.id, required: span ? Number(span.to - span.from + 1n) : 0, missing: missingCount, pending: pendingCount, rangeItems: reads.ranges, recordsRead: reads.records });
  return {
    checked: true,
    baseBackupId: newest.id,
    missing,
    missingCount,
    described,
    pending,
    warnings: pendingCount ? [`${pendingCount} segment(s) up to ${pending.at(-1)!.last} are not archived yet`] : [],
    reads,
  };
}

/** Splits a gap at `through` (names at or before it PostgreSQL archived already; the rest is pending). */
function splitAt(gap: SegnoGap, through: string | undefined, segmentSize: number): { archived?: SegnoGap; pending?: SegnoGap } {
  if (through === undefined) return { pending: gap };
  const last = parseWalName(through, segmentSize);
  if (gap.timeline < last.timeline) return { archived: gap };
  if (gap.timeline > last.timeline || gap.from > last.segno!) return { pending: gap };
  if (gap.to <= last.segno!) return { archived: gap };
  return { archived: { ...gap, to: last.segno! }, pending: { ...gap, from: last.segno! + 1n } };
}

/**
 * The gaps along `path` in `span`, from the timelines' ranges (compacted on the way), each
 * checked against the segment records in it: records found there are put back into the
 * ranges and no longer count as missing.
 */
async function missingAlong(walCatalog: WalCatalog, database: string, path: readonly TimelineSegment[], timelines: readonly number[], span: { from: bigint; to: bigint }, segmentSize: number, reads: GapCheck['reads']): Promise<SegnoGap[]> {
  const ranges: WalRange[] = [];
  for (const timeline of timelines) {
    const compacted = await walCatalog.compactRanges(database, timeline);
    reads.ranges += compacted.read;
    ranges.push(...compacted.ranges);
  }
  const gaps = coverageGaps(path, pathCoverage(path, ranges, segmentSize), span.from, span.to, segmentSize);
  const repaired: WalRange[] = [];
  for (const gap of gaps.slice(0, GAPS_CHECKED)) {
    const found = await walCatalog.recordedRuns(database, gap.timeline, gap.from, gap.to, segmentSize);
    reads.records += found.reduce((sum, run) => sum + Number(run.to - run.from + 1n), 0);
    repaired.push(...found);
  }
  if (repaired.length === 0) return gaps;
  await walCatalog.addRanges(database, repaired, segmentSize);
  return coverageGaps(path, pathCoverage(path, [...ranges, ...repaired], segmentSize), span.from, span.to, segmentSize);
}
