/**
 * The WAL part of the plan: one cut-off per database and timeline — "delete the segments
 * whose name sorts below X" — instead of one decision per segment, so that planning reads
 * a handful of items whatever the archive's size. Pure.
 */
import type { BackupEntry } from '../backup';
import { baseFacts, type BaseFacts, type PitrWindow } from './pitr-window';
import type { RetentionDecision, WalDatabaseView, WalDecision, WalRetentionMark } from './types';

const LOW16 = /^[0-9A-F]{16}$/;
const NAME24 = /^[0-9A-F]{24}$/;

function hex8(timeline: number): string {
  return timeline.toString(16).toUpperCase().padStart(8, '0');
}

/** True when a stored mark has the shape this version writes (anything else holds the WAL). */
export function isWalMark(value: unknown): value is WalRetentionMark {
  const mark = value as Partial<WalRetentionMark> | null;
  if (typeof mark !== 'object' || mark === null || typeof mark.at !== 'string' || !Number.isFinite(Date.parse(mark.at)) || typeof mark.rule !== 'string') return false;
  if (!Array.isArray(mark.timelines) || !Array.isArray(mark.keep)) return false;
  const timelinesOk = mark.timelines.every(
    (t) => typeof t === 'object' && t !== null && Number.isInteger(t.timeline) && t.timeline >= 1 && typeof t.deleteBelow === 'string' && NAME24.test(t.deleteBelow) && t.deleteBelow.startsWith(hex8(t.timeline)),
  );
  const keepOk = mark.keep.every((k) => typeof k === 'object' && k !== null && LOW16.test(k.first) && LOW16.test(k.last) && typeof k.backupId === 'string');
  return timelinesOk && keepOk;
}

function held(database: string, reason: string, anchors: string[] = []): WalDecision {
  return { subject: 'wal', database, action: 'keep', rule: 'WAL_HELD', reason, anchors };
}

/**
 * Why nothing of the database's WAL may go: a damaged base backup entry (it may need
 * WAL we cannot name), or one still being written whose start is unknown and not
 * provably after the window's start.
 */
function holdingEntry(entries: readonly BackupEntry[], decisions: ReadonlyMap<BackupEntry, RetentionDecision>, windowStart: number): string | undefined {
  for (const entry of entries) {
    const decision = decisions.get(entry);
    if (!decision || decision.action === 'delete') continue;
    if (decision.rule === 'INCOMPLETE_ENTRY') return `base backup ${decision.id} is damaged (${decision.reason}): its WAL cannot be named`;
    if (entry.kind === 'base' && !entry.base && !(Date.parse(entry.startedAt) >= windowStart)) {
      return `base backup ${entry.id} is ${entry.state} without its LSNs and started before the window`;
    }
  }
  return undefined;
}

/**
 * The WAL decisions of one database: a pending mark's FINISH_DELETION first, then either
 * WAL_CUTOFF (delete, with the mark to write) or WAL_HELD (keep, and why).
 *
 * The cut-off is the oldest start among the anchors and every kept base backup that
 * finished inside the window or is still in progress: no recovery into the window reads
 * a segment below it. Below it, the WAL from start to stop of each kept base backup
 * whose WAL is not inside it (`walIncluded` false) stays, for its consistency.
 */
export function planWal(options: {
  view: WalDatabaseView;
  window: PitrWindow;
  /** Every backup entry of the database (any kind) and its decision. */
  entries: readonly BackupEntry[];
  decisions: ReadonlyMap<BackupEntry, RetentionDecision>;
  windowStart: number;
  now: string;
}): WalDecision[] {
  const { view, window, entries, decisions, windowStart } = options;
  const database = view.database;
  const out: WalDecision[] = [];
  const anchors = [...window.anchors.keys()].sort();
  if (view.pending !== undefined) {
    if (!isWalMark(view.pending)) return [held(database, `a pending WAL deletion mark is malformed: no WAL is deleted until it is fixed (remove the RETENTION item of WALMETA#${database})`, anchors)];
    out.push({ subject: 'wal', database, action: 'delete', rule: 'FINISH_DELETION', reason: `WAL deletion marked at ${view.pending.at} (${view.pending.rule}): finishing`, mark: view.pending, anchors });
  }
  if (view.timelines.length === 0) return [...out, held(database, 'no WAL segment is recorded', anchors)];
  const baseEntries = entries.filter((entry) => entry.kind === 'base');
  const reason = window.unknown ?? window.noAnchor ?? holdingEntry(baseEntries, decisions, windowStart);
  if (reason) return [...out, held(database, `${reason}: every WAL segment is kept`, anchors)];

  const kept = baseEntries
    .filter((entry) => decisions.get(entry)?.action !== 'delete')
    .map(baseFacts)
    .filter((facts): facts is BaseFacts => facts !== undefined);
  const starts = [...window.anchors.values()];
  for (const facts of kept) {
    const inProgress = facts.entry.state === 'RUNNING' || facts.entry.state === 'UPLOADED';
    if (inProgress || facts.finishedAt === undefined || !(facts.finishedAt < windowStart)) starts.push(facts);
  }
  const cutoff = starts.map((facts) => facts.first).sort()[0];
  if (cutoff === undefined || /^0+$/.test(cutoff)) return [...out, held(database, 'nothing is older than the PITR window\'s first base backup', anchors)];
  const keep = kept
    .filter((facts) => !facts.entry.base!.walIncluded && facts.first < cutoff)
    .map((facts) => ({ first: facts.first, last: facts.last, backupId: facts.entry.id }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.backupId < b.backupId ? -1 : 1));
  const timelines = [...view.timelines].map((summary) => summary.timeline).sort((a, b) => a - b).map((timeline) => ({ timeline, deleteBelow: `${hex8(timeline)}${cutoff}` }));
  const mark: WalRetentionMark = { at: options.now, rule: 'WAL_CUTOFF', timelines, keep };
  const kept16 = keep.length ? `, except the WAL of ${keep.length} older base backup(s) kept for their consistency` : '';
  out.push({
    subject: 'wal',
    database,
    action: 'delete',
    rule: 'WAL_CUTOFF',
    reason: `segments below ${cutoff} (the start of ${anchors.join(', ')}, the base backup(s) the PITR window starts from) on ${timelines.length} timeline(s)${kept16}`,
    mark,
    anchors,
  });
  return out;
}

/** True when `name` (a segment or `.partial` on the mark's timeline) is deleted by `mark`. */
export function deletedByMark(mark: WalRetentionMark, timeline: number, name: string): boolean {
  const line = mark.timelines.find((t) => t.timeline === timeline);
  if (!line || !(name < line.deleteBelow)) return false;
  const low = name.slice(8, 24);
  return !mark.keep.some((range) => range.first <= low && low <= range.last);
}
