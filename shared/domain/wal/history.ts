import { StrongboxError } from '../../errors';
import { formatLsn, parseLsn, type Lsn } from './names';

/**
 * Timeline history files (`TTTTTTTT.history`) and the path of timelines they describe. Pure.
 *
 * PostgreSQL writes one line per ancestor of the new timeline:
 * `<parent timeline>\t<switch point X/Y>\t<reason>`, oldest first; the switch point is
 * the first LSN that belongs to the next timeline. Lines starting with `#` and blank
 * lines are ignored, as PostgreSQL's own reader does.
 */

/** One line of a history file: `parentTimeline` ended at `switchLsn` (exclusive). */
export interface HistoryEntry {
  parentTimeline: number;
  switchLsn: Lsn;
  reason: string;
}

/**
 * One stretch of WAL on the way to a timeline: `timeline` holds [beginLsn, endLsn);
 * the last stretch (the target itself) has no end.
 */
export interface TimelineSegment {
  timeline: number;
  beginLsn: Lsn;
  endLsn?: Lsn;
}

const LINE = /^(\d{1,10})\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s+(.*))?$/;
const MAX_TIMELINE = 0xffff_ffff;

/**
 * Parses the history file of `timeline` (the number in its name). Throws StrongboxError
 * WAL_HISTORY_INVALID when a line does not parse, when parents are not strictly
 * increasing and below `timeline`, or when switch points go backwards.
 */
export function parseHistory(text: string, timeline: number): HistoryEntry[] {
  assertTimeline(timeline);
  const entries: HistoryEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = LINE.exec(line);
    if (!match) throw invalid(timeline, `line ${index + 1} is not "<timeline> <X/Y> <reason>": ${JSON.stringify(line.slice(0, 80))}`);
    const parentTimeline = Number(match[1]);
    const switchLsn = parseLsn(match[2]!);
    const previous = entries.at(-1);
    if (parentTimeline === 0 || parentTimeline > MAX_TIMELINE) throw invalid(timeline, `line ${index + 1} names timeline ${match[1]}, which cannot exist`);
    if (previous && parentTimeline <= previous.parentTimeline) {
      throw invalid(timeline, `line ${index + 1}: timeline ${parentTimeline} follows ${previous.parentTimeline} (timelines must increase)`);
    }
    if (previous && switchLsn < previous.switchLsn) {
      throw invalid(timeline, `line ${index + 1}: switch point ${formatLsn(switchLsn)} is before ${formatLsn(previous.switchLsn)}`);
    }
    if (parentTimeline >= timeline) throw invalid(timeline, `line ${index + 1} names timeline ${parentTimeline} as a parent of ${timeline}`);
    entries.push({ parentTimeline, switchLsn, reason: match[3] ?? '' });
  });
  return entries;
}

/** The text PostgreSQL would write for `entries` (tests, and rebuilding a lost file). */
export function formatHistory(entries: readonly HistoryEntry[]): string {
  return entries.map((entry) => `${entry.parentTimeline}\t${formatLsn(entry.switchLsn)}\t${entry.reason}\n`).join('');
}

/**
 * The stretches of WAL that lead to `targetTimeline`, oldest first, given the entries of
 * the target's own history file (empty for timeline 1, or when it has none): this is
 * PostgreSQL's `expectedTLEs`, in the opposite order. Each stretch begins where the one
 * before it ends. Throws StrongboxError WAL_HISTORY_INVALID when the entries could not
 * come from the target's history file.
 */
export function timelinePath(targetTimeline: number, historyOfTarget: readonly HistoryEntry[]): TimelineSegment[] {
  assertTimeline(targetTimeline);
  const path: TimelineSegment[] = [];
  let beginLsn = 0n;
  for (const entry of historyOfTarget) {
    const previous = path.at(-1);
    if (entry.parentTimeline >= targetTimeline || (previous && entry.parentTimeline <= previous.timeline)) {
      throw invalid(targetTimeline, `timeline ${entry.parentTimeline} cannot be an ancestor here`);
    }
    if (entry.switchLsn < beginLsn) throw invalid(targetTimeline, `switch point ${formatLsn(entry.switchLsn)} is before ${formatLsn(beginLsn)}`);
    path.push({ timeline: entry.parentTimeline, beginLsn, endLsn: entry.switchLsn });
    beginLsn = entry.switchLsn;
  }
  path.push({ timeline: targetTimeline, beginLsn });
  return path;
}

/**
 * The timeline of `path` that holds `lsn` (a switch point belongs to the newer timeline),
 * as PostgreSQL's `tliOfPointInHistory`. Throws WAL_HISTORY_INVALID for an empty path.
 */
export function timelineAt(path: readonly TimelineSegment[], lsn: Lsn): number {
  const last = path.at(-1);
  if (!last) throw invalid(0, 'the path of timelines is empty');
  return (path.find((candidate) => candidate.endLsn === undefined || lsn < candidate.endLsn) ?? last).timeline;
}

/**
 * True when the point (`timeline`, `lsn`) lies on `path`: WAL written there (e.g. a base
 * backup's start) can be replayed up to the path's target timeline.
 */
export function isOnPath(path: readonly TimelineSegment[], timeline: number, lsn: Lsn): boolean {
  const stretch = path.find((candidate) => candidate.timeline === timeline);
  return stretch !== undefined && lsn >= stretch.beginLsn && (stretch.endLsn === undefined || lsn < stretch.endLsn);
}

function assertTimeline(timeline: number): void {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > MAX_TIMELINE) {
    throw invalid(timeline, `${timeline} is not a timeline id`);
  }
}

function invalid(timeline: number, why: string): StrongboxError {
  return new StrongboxError(
    'WAL_HISTORY_INVALID',
    `history of timeline ${timeline} is invalid: ${why}`,
    'a history file is written once by PostgreSQL at promotion: compare it with the copy in pg_wal of the server that created the timeline, and do not restore through it until they agree',
  );
}
