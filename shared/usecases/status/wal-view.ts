import type { WalCatalog, WalTimelineSummary } from '../../ports/wal-catalog';
import type { Storage } from '../../ports/storage';
import type { BackupEntry } from '../../domain/backup';
import type { ArchivedSegment, ArchivedTimeline, WalView } from '../../domain/status';
import { timelineForSegment } from '../../domain/wal/continuity';
import { coveredAt, pathCoverage, type WalRange } from '../../domain/wal/ranges';
import { defaultTimeline, type LiveTimelineEvidence } from '../../domain/wal/live-timeline';
import { parseHistory, timelinePath, type TimelineSegment } from '../../domain/wal/history';
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseLsn, segmentName, segnoOfLsn } from '../../domain/wal/names';
import { readArchivedHistory } from '../wal-history';

/** How much of the catalog a status read touched (Query and GetItem calls, items returned). */
export interface ReadCount {
  requests: number;
  items: number;
}

/** The oldest start LSN among the VERIFIED base backups, or undefined. */
function oldestBaseStart(backups: readonly BackupEntry[]): bigint | undefined {
  let oldest: bigint | undefined;
  for (const entry of backups) {
    if (entry.kind !== 'base' || entry.state !== 'VERIFIED' || entry.deleting || !entry.base) continue;
    try {
      const lsn = parseLsn(entry.base.startLsn);
      if (oldest === undefined || lsn < oldest) oldest = lsn;
    } catch {
      // A damaged entry is named by the domain's warnings; it does not widen the read.
    }
  }
  return oldest;
}

/**
 * Reads what status needs of a database's WAL archive, by keys only: the timelines
 * (one Query), each timeline's history file (one GetItem and one object read each), the
 * followed timeline's newest record (one GetItem), the archived ranges of the timelines on
 * the path to the followed timeline (the live server's, see defaultTimeline; one Query
 * each, whose items depend on the gaps, not on the segments), and the record of each
 * segment where a timeline switch or the oldest VERIFIED base backup's start cuts a range
 * (one GetItem each, for its time). No segment listing. Undefined when nothing was ever
 * archived.
 *
 * @throws CatalogError / StorageError when the catalog or a history file cannot be read;
 *   WAL_HISTORY_INVALID for a history file that does not parse.
 */
export async function readWalView(...args: Parameters<typeof readWalViewParts>): Promise<WalView | undefined> {
  const [deps, , , count] = args;
  const parts = await readWalViewParts(...args);
  if (parts) await readEndTimes(deps.walCatalog, [parts], count);
  return parts?.view;
}

/** A WAL view whose `endTimes` are still to read (readEndTimes): the records `wanted`, by name. */
export interface WalViewParts {
  database: string;
  view: WalView;
  wanted: string[];
  /** The view's `endTimes`, filled in place. */
  endTimes: Record<string, string>;
}

/**
 * Fills the `endTimes` of these views: one GetItem per record for a single one, else
 * BatchGetItem over all of them (100 keys a request, whatever their databases) when the
 * catalog has getWals — status of 200 databases reads their ~200 ends in 2 requests.
 */
export async function readEndTimes(walCatalog: WalCatalog, all: readonly WalViewParts[], count: ReadCount): Promise<void> {
  const files = all.flatMap(({ database, wanted }) => wanted.map((name) => ({ database, name })));
  if (files.length > 1 && walCatalog.getWals) {
    const found = await walCatalog.getWals(files);
    count.requests += Math.ceil(files.length / 100);
    count.items += found.size;
    for (const { database, endTimes, wanted } of all) {
      for (const name of wanted) {
        const record = found.get(`${database}\u0000${name}`);
        if (record) endTimes[name] = record.archivedAt;
      }
    }
    return;
  }
  for (const { database, endTimes, wanted } of all) {
    for (const name of wanted) {
      const record = await walCatalog.getWal(database, name);
      count.requests += 1;
      count.items += record ? 1 : 0;
      if (record) endTimes[name] = record.archivedAt;
    }
  }
}

/** readWalView without the ends' times: what it reads first, and which records it then wants. */
export async function readWalViewParts(
  deps: { walCatalog: WalCatalog; storage: Storage },
  database: string,
  backups: readonly BackupEntry[],
  count: ReadCount,
  live?: LiveTimelineEvidence,
  /** The timelines when the caller read them already (readMeta): not read again. */
  known?: readonly WalTimelineSummary[],
  /** The ranges of every timeline when the caller read them already (the catalog's WAL view): none read again; a timeline missing has none. */
  knownRanges?: ReadonlyMap<number, WalRange[]>,
): Promise<WalViewParts | undefined> {
  let summaries = known;
  if (!summaries) {
    summaries = await deps.walCatalog.timelines(database);
    count.requests += 1;
    count.items += summaries.length;
  }
  if (summaries.length === 0) return undefined;
  // The live server's timeline, never merely the newest: a recovered copy's must not take over.
  const choice = defaultTimeline({ archived: summaries.map((summary) => summary.timeline), ...(live ? { live } : {}) });
  const top = summaries.find((summary) => summary.timeline === choice.timeline)!;
  const warnings: string[] = choice.warning ? [choice.warning] : [];
  // The followed timeline's ranges first: when its last range ends at its newest file, that is the newest record.
  const rangesOf = new Map<number, WalRange[]>();
  const readRanges = async (timeline: number) => {
    if (!rangesOf.has(timeline) && knownRanges) rangesOf.set(timeline, knownRanges.get(timeline) ?? []);
    if (!rangesOf.has(timeline)) {
      const found = await deps.walCatalog.listRanges(database, timeline);
      count.requests += 1;
      count.items += found.length;
      rangesOf.set(timeline, found);
    }
    return rangesOf.get(timeline)!;
  };
  const topLast = (await readRanges(top.timeline)).at(-1);
  let newest: ArchivedSegment | undefined;
  let segmentSize = DEFAULT_SEGMENT_SIZE;
  if (topLast && topLast.last.name === top.highestName && topLast.last.archivedAt !== undefined && topLast.segmentSize !== undefined) {
    newest = { name: topLast.last.name, archivedAt: topLast.last.archivedAt };
    segmentSize = topLast.segmentSize;
  } else {
    const newestRecord = await deps.walCatalog.getWal(database, top.highestName);
    count.requests += 1;
    count.items += newestRecord ? 1 : 0;
    if (newestRecord && (newestRecord.kind === 'segment' || newestRecord.kind === 'partial')) segmentSize = newestRecord.size;
    if (newestRecord) newest = { name: newestRecord.name, archivedAt: newestRecord.archivedAt };
  }

  // Every timeline with where it branched off (one history read per timeline above 1).
  let path: TimelineSegment[] = timelinePath(top.timeline, []);
  const timelines: ArchivedTimeline[] = [];
  for (const summary of [...summaries].sort((a, b) => a.timeline - b.timeline)) {
    const info: ArchivedTimeline = { timeline: summary.timeline, highestName: summary.highestName };
    if (summary.timeline > 1) {
      const text = await readArchivedHistory(deps, database, summary.timeline);
      count.requests += 1;
      if (text === undefined) {
        warnings.push(`the history file of timeline ${summary.timeline} is not archived: ${summary.timeline === top.timeline ? `only timeline ${top.timeline} is followed` : 'where it branched off is unknown'}`);
      } else {
        const history = parseHistory(text, summary.timeline);
        const parent = history.at(-1);
        if (parent) Object.assign(info, { parent: parent.parentTimeline, branchLsn: formatLsn(parent.switchLsn) });
        if (summary.timeline === top.timeline) path = timelinePath(top.timeline, history);
      }
    }
    timelines.push(info);
  }

  // The archived ranges of the path's timelines: one Query each, items by gaps, not by segments.
  const ranges: WalRange[] = [];
  for (const timeline of new Set(path.map((stretch) => stretch.timeline))) ranges.push(...(await readRanges(timeline)));
  // Ends a timeline switch or the oldest base backup cuts inside a range: their times are read one by one.
  const endTimes: Record<string, string> = {};
  const start = oldestBaseStart(backups);
  const covered = pathCoverage(path, ranges, segmentSize);
  const wanted = covered.flatMap((run) => [run.first, run.last]).filter((end) => end.archivedAt === undefined).map((end) => end.name);
  if (start !== undefined) {
    const first = coveredAt(covered, segnoOfLsn(start, segmentSize));
    if (first && first.from !== segnoOfLsn(start, segmentSize)) wanted.push(segmentName(timelineForSegment(path, segnoOfLsn(start, segmentSize), segmentSize), segnoOfLsn(start, segmentSize), segmentSize));
  }
  const view: WalView = { path, ranges, endTimes, segmentSize, timelines, followed: top.timeline, ...(live ? { live } : {}), ...(newest ? { newest } : {}), ...(warnings.length ? { warnings } : {}) };
  return { database, view, wanted: [...new Set(wanted)], endTimes };
}
