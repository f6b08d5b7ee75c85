/**
 * The PITR window of one database: which base backups it starts from (the anchors) and
 * whether the planner can prove that at all. Pure.
 *
 * Every moment of the window (`now - walDays` .. now) must stay reachable: a recovery to
 * a moment starts from a VERIFIED base backup that finished before it, on the path of
 * the moment's timeline, and replays contiguous WAL from the backup's start. The anchor
 * of a timeline is the newest such backup that finished before the window's start: with
 * the WAL from its start onward and every base backup that finished inside the window,
 * every moment that was reachable stays reachable.
 */
import type { BackupEntry } from '../backup';
import { isOnPath } from '../wal/history';
import { parseLsn } from '../wal/names';
import { entryProblem } from './entry-check';
import type { WalDatabaseView } from './types';

/** A base backup whose entry passed entryProblem and carries its base info. */
export interface BaseFacts {
  entry: BackupEntry;
  startLsn: bigint;
  /** The last 16 hex digits of its first and last WAL segment (comparable across timelines). */
  first: string;
  last: string;
  finishedAt?: number;
}

/** The window of one database. */
export interface PitrWindow {
  /** The anchors, by id (one per timeline in the window; several timelines may share one). */
  anchors: Map<string, BaseFacts>;
  /**
   * Why the anchors cannot be trusted (a timeline's path is unknown): then every VERIFIED
   * base backup is kept and no WAL is deleted.
   */
  unknown?: string;
  /** Why a timeline in the window has no anchor: no WAL is deleted (base backups follow their rules). */
  noAnchor?: string;
}

/** Base info of a sound base backup entry, or undefined. */
export function baseFacts(entry: BackupEntry): BaseFacts | undefined {
  if (entry.kind !== 'base' || entryProblem(entry) || !entry.base) return undefined;
  const finished = entry.finishedAt === undefined ? undefined : Date.parse(entry.finishedAt);
  return {
    entry,
    startLsn: parseLsn(entry.base.startLsn),
    first: entry.base.walSegments.first.slice(8),
    last: entry.base.walSegments.last.slice(8),
    ...(finished !== undefined && Number.isFinite(finished) ? { finishedAt: finished } : {}),
  };
}

/** The timelines the window may hold moments of: those written since its start, and always the newest. */
export function timelinesInWindow(view: WalDatabaseView, windowStart: number): number[] {
  const newest = Math.max(...view.timelines.map((summary) => summary.timeline));
  return view.timelines
    .filter((summary) => summary.timeline === newest || !(Date.parse(summary.updatedAt) < windowStart))
    .map((summary) => summary.timeline)
    .sort((a, b) => a - b);
}

function newer(a: BaseFacts, b: BaseFacts): boolean {
  if (a.startLsn !== b.startLsn) return a.startLsn > b.startLsn;
  return a.entry.id > b.entry.id;
}

/**
 * The anchors of `view`'s database among `bases` (its sound base backups, not marked) at
 * `windowStart`. A timeline without a known path makes the window `unknown`; one with no
 * VERIFIED base backup on its path that finished before the window's start gives `noAnchor`.
 */
export function pitrWindow(view: WalDatabaseView, bases: readonly BaseFacts[], windowStart: number): PitrWindow {
  const anchors = new Map<string, BaseFacts>();
  const window: PitrWindow = { anchors };
  if (view.timelines.length === 0) return window;
  for (const timeline of timelinesInWindow(view, windowStart)) {
    const path = view.paths.get(timeline);
    if (!path) {
      window.unknown ??= `the history of timeline ${timeline} could not be read: the PITR window cannot be proven`;
      continue;
    }
    let anchor: BaseFacts | undefined;
    for (const base of bases) {
      if (base.entry.state !== 'VERIFIED' || base.entry.deleting || base.finishedAt === undefined || !(base.finishedAt < windowStart)) continue;
      if (!isOnPath(path, base.entry.base!.timeline, base.startLsn)) continue;
      if (!anchor || newer(base, anchor)) anchor = base;
    }
    if (anchor) anchors.set(anchor.entry.id, anchor);
    else window.noAnchor ??= `no VERIFIED base backup on the path of timeline ${timeline} ended before the window's start ${new Date(windowStart).toISOString()}`;
  }
  return window;
}
