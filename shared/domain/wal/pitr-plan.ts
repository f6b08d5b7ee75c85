import type { ErrorCode } from '../../error-codes';
import { StrongboxError } from '../../errors';
import { describeGapRanges, timelineForSegment } from './continuity';
import { isOnPath, type TimelineSegment } from './history';
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseWalName, segmentName, segmentStartLsn, segnoOfLsn, type Lsn } from './names';
import { coverageGaps, coveredAt, namedGaps, pathCoverage, rangesOfSegments, type WalRange } from './ranges';
import { listTimelines } from './live-timeline';
import { describeTarget, type PitrTarget } from './pitr-target';

/**
 * The plan of a point-in-time recovery, decided from the catalog alone before anything is
 * written: which base backup, which WAL, and proof that the WAL is continuous from the
 * base backup to the target. Pure.
 */

/** A VERIFIED base backup as the plan needs it. */
export interface BaseCandidate {
  id: string;
  startLsn: Lsn;
  stopLsn: Lsn;
  timeline: number;
  /** When pg_basebackup finished (ISO-8601 UTC): the earliest time it can restore to. */
  finishedAt: string;
  /** The WAL needed for consistency is inside the backup (pg_basebackup -X fetch). */
  walIncluded: boolean;
}

/** The archive as the catalog records it. */
export interface ArchiveView {
  /** Timelines from the first to the newest, as recovery will follow them (`latest`). */
  path: readonly TimelineSegment[];
  /** The archived ranges of the path's timelines (`WalCatalog.listRanges`), any order. */
  ranges?: readonly WalRange[];
  /** Or, for small views (tests), archived segment names and when each was archived (ISO-8601 UTC). */
  archived?: ReadonlyMap<string, string>;
  /** When the segments at range ends a timeline switch cuts were archived, by name (read one by one). */
  endTimes?: Readonly<Record<string, string>>;
  segmentSize?: number;
}

/** The ranges of a view, from its ranges or its segment list. */
export function viewRanges(archive: ArchiveView): WalRange[] {
  if (archive.ranges) return [...archive.ranges];
  return rangesOfSegments([...(archive.archived ?? new Map<string, string>())].map(([name, archivedAt]) => ({ name, archivedAt })), archive.segmentSize ?? DEFAULT_SEGMENT_SIZE);
}

/** The target with a restore point's name resolved from the catalog. */
export type ResolvedTarget = PitrTarget & { lsn?: Lsn };

export interface PitrPlan {
  base: BaseCandidate;
  target: string;
  /** The timelines recovery follows. */
  timelines: number[];
  /** WAL recovery reads from the archive: first and last segment and how many. */
  wal: { first: string; last: string; count: number };
  /** How far the archive reaches without a gap from the base backup (an LSN) and when that was archived. */
  reach: { lsn: string; lastSegment?: string; archivedAt?: string };
  warnings: string[];
}

function pitrError(code: ErrorCode, message: string, hint: string): StrongboxError {
  return new StrongboxError(code, message, hint);
}

/** The newest base backup on the path that can reach the target, or undefined. */
function chooseBase(target: ResolvedTarget, bases: readonly BaseCandidate[], path: readonly TimelineSegment[]): BaseCandidate | undefined {
  const usable = bases.filter((base) => isOnPath(path, base.timeline, base.startLsn)).sort((a, b) => (a.stopLsn === b.stopLsn ? 0 : a.stopLsn > b.stopLsn ? -1 : 1));
  switch (target.type) {
    case 'time':
      return usable.find((base) => Date.parse(base.finishedAt) < target.at.getTime());
    case 'lsn':
    case 'name':
      return usable.find((base) => target.lsn !== undefined && base.stopLsn <= target.lsn);
    case 'xid':
      // Where a transaction committed is not in the catalog: the oldest base backup replays the most.
      return usable.at(-1);
    case 'latest':
      return usable[0];
  }
}

/**
 * Plans a recovery to `target`. Throws, before anything is written:
 * - PITR_NO_BASE_BACKUP when no VERIFIED base backup on the timeline path ends before the target;
 * - WAL_GAP naming the missing segments when the archive is not continuous from the base
 *   backup to the target (or, for `--latest`, to its own consistency point);
 * - PITR_TARGET_NOT_ARCHIVED when the target is past what is archived.
 */
export function planPitr(options: { target: ResolvedTarget; bases: readonly BaseCandidate[]; archive: ArchiveView; otherTimelines?: readonly number[] }): PitrPlan {
  const { target, archive } = options;
  const segmentSize = archive.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const path = archive.path;
  const described = describeTarget(target);
  const followed = path.at(-1)?.timeline ?? 1;
  const onTimeline = `timeline ${followed}`;
  const others = options.otherTimelines?.length ? ` The archive also has ${options.otherTimelines.length === 1 ? 'timeline' : 'timelines'} ${listTimelines(options.otherTimelines)}: --timeline N follows another.` : '';
  const base = chooseBase(target, options.bases, path);
  if (!base) {
    const oldest = [...options.bases].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))[0];
    throw pitrError(
      'PITR_NO_BASE_BACKUP',
      `no VERIFIED base backup on the way to ${onTimeline} ends before ${described}${oldest ? ` (the oldest ends at ${oldest.finishedAt}, LSN ${formatLsn(oldest.stopLsn)})` : ' (there is none)'}`,
      (oldest ? 'pick a later target, or restore a logical backup instead (`strongbox restore`)' : 'take one: `strongbox backup --type base`; PITR replays WAL on top of a base backup') + others,
    );
  }
  const ranges = viewRanges(archive);
  const covered = pathCoverage(path, ranges, segmentSize);
  const startSegno = segnoOfLsn(base.startLsn, segmentSize);
  const nameAt = (segno: bigint) => segmentName(timelineForSegment(path, segno, segmentSize), segno, segmentSize);
  const run = coveredAt(covered, startSegno);
  const reach = {
    ...(run ? { lastSegment: run.last.name } : {}),
    reachedLsn: segmentStartLsn(run ? run.to + 1n : startSegno, segmentSize),
    firstMissing: nameAt(run ? run.to + 1n : startSegno),
  };
  const reachedAt = run ? (run.last.archivedAt ?? archive.endTimes?.[run.last.name] ?? archive.archived?.get(run.last.name)) : undefined;
  const warnings: string[] = [];

  const gapError = (endLsn: Lsn): StrongboxError => {
    const missing = namedGaps(coverageGaps(path, covered, startSegno, segnoOfLsn(endLsn, segmentSize), segmentSize), segmentSize);
    return pitrError(
      'WAL_GAP',
      `the archive of ${onTimeline} is not continuous from base backup ${base.id} to ${described}: missing ${describeGapRanges(missing)}`,
      'the missing WAL may still be in pg_wal on the server (copy it in with `strongbox wal-push`); otherwise choose a target before the gap, or a later base backup.' + others,
    );
  };
  // The highest segment archived on any of the path's timelines (past a switch too).
  const highest = ranges.reduce<bigint | undefined>((max, range) => (max === undefined || range.to > max ? range.to : max), undefined);

  let endLsn: Lsn;
  switch (target.type) {
    case 'lsn':
    case 'name': {
      endLsn = target.lsn!;
      if (reach.reachedLsn <= endLsn) {
        if (highest === undefined || highest <= segnoOfLsn(endLsn, segmentSize)) {
          throw pitrError('PITR_TARGET_NOT_ARCHIVED', `${described} is past the archived WAL of ${onTimeline} (it reaches ${formatLsn(reach.reachedLsn)})`, 'wait for the segment to be archived (archive_timeout), or force it: SELECT pg_switch_wal() on the server.' + others);
        }
        throw gapError(endLsn);
      }
      break;
    }
    case 'time': {
      if (reachedAt === undefined || Date.parse(reachedAt) < target.at.getTime()) {
        if (reach.firstMissing && highest !== undefined && highest > parseWalName(reach.firstMissing, segmentSize).segno!) throw gapError(segmentStart(highest, segmentSize));
        throw pitrError(
          'PITR_TARGET_NOT_ARCHIVED',
          `${described} is past the archived WAL of ${onTimeline}: the last segment reachable from base backup ${base.id} was archived ${reachedAt ?? 'never'}`,
          'wait for the next segment to be archived (archive_timeout), or force it: SELECT pg_switch_wal() on the server; or use --latest.' + others,
        );
      }
      endLsn = reach.reachedLsn - 1n;
      break;
    }
    case 'xid':
    case 'latest': {
      if (reach.reachedLsn <= base.stopLsn && !base.walIncluded) throw gapError(base.stopLsn);
      if (reach.reachedLsn === segmentStartOf(base.startLsn, segmentSize)) {
        if (!base.walIncluded) throw gapError(base.stopLsn);
        warnings.push('no archived WAL follows the base backup: recovery ends at its own end point');
        endLsn = base.stopLsn;
      } else {
        endLsn = reach.reachedLsn - 1n;
      }
      if (target.type === 'xid') warnings.push(`the catalog does not know where transaction ${target.xid} committed: recovery replays from the oldest base backup and fails (without promoting) if the archive ends before it`);
      if (highest !== undefined && highest > segnoOfLsn(endLsn, segmentSize)) warnings.push(`WAL after ${reach.firstMissing} is archived but unreachable: ${reach.firstMissing} is missing`);
      break;
    }
  }
  if (endLsn < base.startLsn) endLsn = base.stopLsn;
  const lastSegno = segnoOfLsn(endLsn, segmentSize);
  return {
    base,
    target: described,
    timelines: path.map((stretch) => stretch.timeline),
    wal: { first: nameAt(startSegno), last: nameAt(lastSegno), count: Number(lastSegno - startSegno + 1n) },
    reach: { lsn: formatLsn(reach.reachedLsn), ...(reach.lastSegment ? { lastSegment: reach.lastSegment } : {}), ...(reachedAt ? { archivedAt: reachedAt } : {}) },
    warnings,
  };
}

function segmentStartOf(lsn: Lsn, segmentSize: number): Lsn {
  return segnoOfLsn(lsn, segmentSize) * BigInt(segmentSize);
}

function segmentStart(segno: bigint, segmentSize: number): Lsn {
  return segno * BigInt(segmentSize);
}
