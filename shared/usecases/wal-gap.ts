import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../adapters/catalog/catalog';
import type { WalCatalog } from '../adapters/catalog/wal-catalog';
import type { BackupEntry } from '../domain/backup';
import { describeGaps, findGaps, requiredSegments } from '../domain/wal/continuity';
import { isOnPath, parseHistory, timelinePath, type TimelineSegment } from '../domain/wal/history';
import { parseLsn, parseWalName } from '../domain/wal/names';
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
  /** Segments PostgreSQL archived (at or before pg_stat_archiver's last) that the catalog lacks. */
  missing: string[];
  /** `missing` for people (ranges). */
  described: string;
  /** Newer segments not archived yet: lag, not a hole. */
  pending: string[];
  warnings: string[];
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

/**
 * Lists the segments a recovery from the newest VERIFIED base backup up to `switched` needs,
 * and which of them the WAL catalog lacks. A segment counts as missing only when PostgreSQL
 * already archived it (at or before `archivedThrough`, pg_stat_archiver's last); after one
 * re-read `graceMs` later, since the catalog indexes a record a few seconds after it is
 * written. Without a base backup, or across a timeline switch without its history, it
 * checks nothing and says why in `warnings`.
 *
 * @throws CatalogError when a catalog cannot be read; WAL_HISTORY_INVALID for a bad history.
 */
export async function findArchiveGap(
  deps: GapDeps,
  request: { database: string; switched: { lsn: string; segment: string; timeline: number }; segmentSize: number; archivedThrough?: string; graceMs?: number },
): Promise<GapCheck> {
  const { database, switched, segmentSize } = request;
  const unchecked = (warning: string, baseBackupId?: string): GapCheck => ({ checked: false, ...(baseBackupId ? { baseBackupId } : {}), missing: [], described: '', pending: [], warnings: [warning] });
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
  const required = endLsn < startLsn ? [] : requiredSegments({ path, startLsn, endLsn, segmentSize });
  const through = request.archivedThrough === undefined ? undefined : /^[0-9A-F]{24}/.exec(request.archivedThrough)?.[0];
  const archivedByServer = (name: string) => through !== undefined && name <= through;
  let missing = findGaps(required, await archivedNames(deps.walCatalog, database, required, segmentSize));
  if (missing.some(archivedByServer) && (request.graceMs ?? 5_000) > 0) {
    await sleep(request.graceMs ?? 5_000);
    missing = findGaps(required, await archivedNames(deps.walCatalog, database, required, segmentSize));
  }
  const holes = missing.filter(archivedByServer);
  const pending = missing.filter((name) => !archivedByServer(name));
  const described = holes.length ? describeGaps(holes, { segmentSize }) : '';
  deps.log.info('WAL continuity checked', { database, baseBackupId: newest.id, required: required.length, missing: holes.length, pending: pending.length });
  return {
    checked: true,
    baseBackupId: newest.id,
    missing: holes,
    described,
    pending,
    warnings: pending.length ? [`${pending.length} segment(s) up to ${pending.at(-1)} are not archived yet`] : [],
  };
}

/** The recorded segment names among `required`, one ranged query per timeline. */
async function archivedNames(walCatalog: WalCatalog, database: string, required: readonly string[], segmentSize: number): Promise<Set<string>> {
  const byTimeline = new Map<number, bigint[]>();
  for (const name of required) {
    const parsed = parseWalName(name, segmentSize);
    const range = byTimeline.get(parsed.timeline);
    if (!range) byTimeline.set(parsed.timeline, [parsed.segno!, parsed.segno!]);
    else range[1] = parsed.segno!;
  }
  const names = new Set<string>();
  for (const [timeline, [from, to]] of byTimeline) {
    for (const record of await walCatalog.listSegments(database, timeline, from, to, segmentSize)) {
      if (record.kind === 'segment') names.add(record.name);
    }
  }
  return names;
}
