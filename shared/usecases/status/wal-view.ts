import type { WalCatalog } from '../../adapters/catalog/wal-catalog';
import type { Storage } from '../../adapters/storage/storage';
import type { BackupEntry } from '../../domain/backup';
import type { ArchivedSegment, ArchivedTimeline, WalView } from '../../domain/status';
import { defaultTimeline, type LiveTimelineEvidence } from '../../domain/wal/live-timeline';
import { parseHistory, timelinePath, type TimelineSegment } from '../../domain/wal/history';
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseLsn, segnoOfLsn } from '../../domain/wal/names';
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
 * followed timeline's newest record (one GetItem), and the segments along the path to
 * the followed timeline (the live server's, see defaultTimeline) from the oldest
 * VERIFIED base backup's start (one ranged Query per timeline). Nothing before that start
 * is read. Undefined when nothing was ever archived.
 *
 * @throws CatalogError / StorageError when the catalog or a history file cannot be read;
 *   WAL_HISTORY_INVALID for a history file that does not parse.
 */
export async function readWalView(
  deps: { walCatalog: WalCatalog; storage: Storage },
  database: string,
  backups: readonly BackupEntry[],
  count: ReadCount,
  live?: LiveTimelineEvidence,
): Promise<WalView | undefined> {
  const summaries = await deps.walCatalog.timelines(database);
  count.requests += 1;
  count.items += summaries.length;
  if (summaries.length === 0) return undefined;
  // The live server's timeline, never merely the newest: a recovered copy's must not take over.
  const choice = defaultTimeline({ archived: summaries.map((summary) => summary.timeline), ...(live ? { live } : {}) });
  const top = summaries.find((summary) => summary.timeline === choice.timeline)!;
  const warnings: string[] = choice.warning ? [choice.warning] : [];
  const newestRecord = await deps.walCatalog.getWal(database, top.highestName);
  count.requests += 1;
  count.items += newestRecord ? 1 : 0;
  const segmentSize = newestRecord && (newestRecord.kind === 'segment' || newestRecord.kind === 'partial') ? newestRecord.size : DEFAULT_SEGMENT_SIZE;
  const newest: ArchivedSegment | undefined = newestRecord ? { name: newestRecord.name, archivedAt: newestRecord.archivedAt } : undefined;

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

  const start = oldestBaseStart(backups);
  const segments: ArchivedSegment[] = [];
  if (start !== undefined) {
    const from = segnoOfLsn(start, segmentSize);
    for (const stretch of path) {
      const low = from > segnoOfLsn(stretch.beginLsn, segmentSize) ? from : segnoOfLsn(stretch.beginLsn, segmentSize);
      const high = stretch.endLsn === undefined ? undefined : segnoOfLsn(stretch.endLsn, segmentSize);
      if (high !== undefined && high < low) continue;
      const records = await deps.walCatalog.listSegments(database, stretch.timeline, low, high, segmentSize);
      count.requests += 1;
      count.items += records.length;
      for (const record of records) if (record.kind === 'segment') segments.push({ name: record.name, archivedAt: record.archivedAt });
    }
  }
  return { path, segments, segmentSize, timelines, followed: top.timeline, ...(live ? { live } : {}), ...(newest ? { newest } : {}), ...(warnings.length ? { warnings } : {}) };
}
