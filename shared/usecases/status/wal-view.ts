import type { WalCatalog } from '../../adapters/catalog/wal-catalog';
import type { Storage } from '../../adapters/storage/storage';
import type { BackupEntry } from '../../domain/backup';
import type { ArchivedSegment, WalView } from '../../domain/status';
import { parseHistory, timelinePath, type TimelineSegment } from '../../domain/wal/history';
import { DEFAULT_SEGMENT_SIZE, parseLsn, segnoOfLsn } from '../../domain/wal/names';
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
 * (one Query), the newest timeline's history file (one GetItem and one object read), the
 * newest record (one GetItem), and the segments along the timeline path from the oldest
 * VERIFIED base backup's start (one ranged Query per timeline). Nothing before that start
 * is read. Undefined when nothing was ever archived.
 *
 * @throws CatalogError / StorageError when the catalog or a history file cannot be read;
 *   WAL_HISTORY_INVALID for a history file that does not parse.
 */
export async function readWalView(deps: { walCatalog: WalCatalog; storage: Storage }, database: string, backups: readonly BackupEntry[], count: ReadCount): Promise<WalView | undefined> {
  const summaries = await deps.walCatalog.timelines(database);
  count.requests += 1;
  count.items += summaries.length;
  const top = summaries.reduce<(typeof summaries)[number] | undefined>((best, summary) => (!best || summary.timeline > best.timeline ? summary : best), undefined);
  if (!top) return undefined;
  const warnings: string[] = [];
  const newestRecord = await deps.walCatalog.getWal(database, top.highestName);
  count.requests += 1;
  count.items += newestRecord ? 1 : 0;
  const segmentSize = newestRecord && (newestRecord.kind === 'segment' || newestRecord.kind === 'partial') ? newestRecord.size : DEFAULT_SEGMENT_SIZE;
  const newest: ArchivedSegment | undefined = newestRecord ? { name: newestRecord.name, archivedAt: newestRecord.archivedAt } : undefined;

  let path: TimelineSegment[] = timelinePath(top.timeline, []);
  if (top.timeline > 1) {
    const text = await readArchivedHistory(deps, database, top.timeline);
    count.requests += 1;
    if (text === undefined) warnings.push(`the history file of timeline ${top.timeline} is not archived: only timeline ${top.timeline} is followed`);
    else path = timelinePath(top.timeline, parseHistory(text, top.timeline));
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
  return { path, segments, segmentSize, ...(newest ? { newest } : {}), ...(warnings.length ? { warnings } : {}) };
}
