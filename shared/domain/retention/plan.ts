/**
 * The retention planner: for every catalog entry, keep, delete or cold, and the rule that
 * decided. Pure and deterministic: the catalog, the policy and `now` are arguments, and
 * the same catalog in any order gives the same plan. Applying the plan (catalog first,
 * then storage) is usecases/retention.ts.
 */
import { InputError } from '../../errors';
import type { BackupEntry } from '../backup';
import { entryProblem, field } from './entry-check';
import { parseRetentionPolicy, type RetentionPolicy } from './policy';

const DAY_MS = 86_400_000;

/**
 * What the planner decides from. Today: the backups. With WAL archiving this grows a
 * `walSegments` list (name, timeline, LSN range, archivedAt) and `restorePoints`; the
 * planner then adds the PITR rules (keep every segment from the start of the newest base
 * backup before the window's start up to now; keep the base backup that is the only way
 * into part of the window) beside the backup rules below, and its decisions get a
 * `subject` of their own.
 */
export interface RetentionCatalog {
  backups: readonly BackupEntry[];
}

/** `cold` is a kept entry that lives in cold storage (report only: the bucket moves it). */
export type RetentionAction = 'keep' | 'delete' | 'cold';

/** The stable names of the rules, first match wins, in this order. */
export type RetentionRule =
  | 'INCOMPLETE_ENTRY'
  | 'IN_PROGRESS'
  | 'FROM_THE_FUTURE'
  | 'NOT_PLANNED_YET'
  | 'FINISH_DELETION'
  | 'NEWEST_VERIFIED'
  | 'FAILED_INVESTIGATION'
  | 'FAILED_EXPIRED'
  | 'UNTIL_DELETED'
  | 'BEFORE_EXPIRY'
  | 'EXPIRED'
  | 'WITHIN_WINDOW'
  | 'COLD_STORAGE'
  | 'PAST_WINDOW';

/** One entry's fate. */
export interface RetentionDecision {
  /** What is decided on; `wal-segment` and `restore-point` come with WAL archiving. */
  subject: 'backup';
  id: string;
  database: string;
  tier: string;
  state: string;
  startedAt: string;
  action: RetentionAction;
  rule: RetentionRule;
  /** For humans and the INFO log: the rule with this entry's numbers. */
  reason: string;
  /** The entry as the catalog gave it (what markDeleting's condition must match). */
  entry: BackupEntry;
}

/** A plan: one decision per entry, sorted by database, newest first, then id. */
export interface RetentionPlan {
  now: string;
  policy: RetentionPolicy;
  decisions: RetentionDecision[];
  /** Per database: the newest VERIFIED full logical backup, which no rule deletes. */
  newestVerified: Array<{ database: string; id: string }>;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** By the moment a time names (`…Z` and `….000Z` are equal); unparseable times first. */
function compareTime(a: string, b: string): number {
  const x = Date.parse(a);
  const y = Date.parse(b);
  return (Number.isNaN(x) ? -Infinity : x) - (Number.isNaN(y) ? -Infinity : y) || 0;
}

/** A total order on entries, whatever order the catalog returned them in. */
function byIdentity(a: BackupEntry, b: BackupEntry): number {
  return compareText(field(a, 'id'), field(b, 'id')) || compareText(JSON.stringify(a) ?? '', JSON.stringify(b) ?? '');
}

function newestVerifiedByDatabase(entries: readonly BackupEntry[], now: number): Map<string, BackupEntry> {
  const newest = new Map<string, BackupEntry>();
  for (const entry of entries) {
    // A future-dated entry is kept anyway; protecting the newest one from the past too keeps more, never less.
    if (entryProblem(entry) || entry.kind !== 'logical' || entry.scope !== 'full' || entry.state !== 'VERIFIED' || entry.deleting) continue;
    if (Date.parse(entry.startedAt) > now) continue;
    const current = newest.get(entry.database);
    if (!current || compareTime(current.startedAt, entry.startedAt) < 0 || (compareTime(current.startedAt, entry.startedAt) === 0 && compareText(current.id, entry.id) < 0)) {
      newest.set(entry.database, entry);
    }
  }
  return newest;
}

function days(ms: number): string {
  return (ms / DAY_MS).toFixed(1);
}

/** `1 day`, `30 days`: a policy number for a reason. */
function period(count: number): string {
  return `${count} ${count === 1 ? 'day' : 'days'}`;
}

function windowDays(policy: RetentionPolicy, tier: BackupEntry['tier']): number | undefined {
  if (tier === 'daily') return policy.dailyDays;
  if (tier === 'weekly') return policy.weeklyDays;
  if (tier === 'monthly') return policy.monthlyDays;
  return undefined; // manual, pre-migration: until deleted
}

type Verdict = Pick<RetentionDecision, 'action' | 'rule' | 'reason'>;

/** The rules, in order; `entry` has passed entryProblem. */
function decide(entry: BackupEntry, policy: RetentionPolicy, now: number, newest: Map<string, BackupEntry>): Verdict {
  const started = Date.parse(entry.startedAt);
  const age = now - started;
  if (entry.state === 'RUNNING' || entry.state === 'UPLOADED') {
    return { action: 'keep', rule: 'IN_PROGRESS', reason: `${entry.state}: still being written or verified` };
  }
  if (age < 0) {
    return { action: 'keep', rule: 'FROM_THE_FUTURE', reason: `started ${entry.startedAt}, after now (${new Date(now).toISOString()}): clock skew, kept until the clocks agree` };
  }
  if (entry.kind !== 'logical') {
    return { action: 'keep', rule: 'NOT_PLANNED_YET', reason: `${entry.kind} backups are kept until retention plans them with their WAL` };
  }
  if (entry.deleting) {
    return { action: 'delete', rule: 'FINISH_DELETION', reason: `marked for deletion at ${entry.deleting.at} (${entry.deleting.rule}): finishing` };
  }
  if (newest.get(entry.database) === entry) {
    return { action: 'keep', rule: 'NEWEST_VERIFIED', reason: `newest VERIFIED full backup of ${entry.database}: always kept` };
  }
  if (entry.state === 'FAILED') {
    return age <= policy.failedDays * DAY_MS
      ? { action: 'keep', rule: 'FAILED_INVESTIGATION', reason: `FAILED ${days(age)} days ago: FAILED entries are kept ${period(policy.failedDays)} for investigation` }
      : { action: 'delete', rule: 'FAILED_EXPIRED', reason: `FAILED ${days(age)} days ago, past the ${period(policy.failedDays)} kept for investigation` };
  }
  const windowOf = windowDays(policy, entry.tier);
  const expires = entry.expiresAt === undefined ? undefined : Date.parse(entry.expiresAt);
  if (windowOf === undefined) {
    if (expires === undefined) return { action: 'keep', rule: 'UNTIL_DELETED', reason: `${entry.tier}: kept until deleted (no expiresAt)` };
    return now <= expires
      ? { action: 'keep', rule: 'BEFORE_EXPIRY', reason: `${entry.tier}: kept until its expiresAt ${entry.expiresAt}` }
      : { action: 'delete', rule: 'EXPIRED', reason: `${entry.tier}: past its expiresAt ${entry.expiresAt}` };
  }
  if (age <= windowOf * DAY_MS) {
    if (entry.tier === 'monthly' && age >= policy.monthlyColdAfterDays * DAY_MS) {
      return { action: 'cold', rule: 'COLD_STORAGE', reason: `monthly within ${period(windowOf)} (${days(age)} days old), in cold storage after ${period(policy.monthlyColdAfterDays)}` };
    }
    return { action: 'keep', rule: 'WITHIN_WINDOW', reason: `${entry.tier} within ${period(windowOf)} (${days(age)} days old)` };
  }
  // An expiresAt can lengthen a scheduled tier's window, never shorten it.
  if (expires !== undefined && now <= expires) {
    return { action: 'keep', rule: 'BEFORE_EXPIRY', reason: `${entry.tier} older than ${period(windowOf)}, kept until its expiresAt ${entry.expiresAt}` };
  }
  return { action: 'delete', rule: 'PAST_WINDOW', reason: `${entry.tier} older than ${period(windowOf)} (${days(age)} days old)` };
}

/**
 * Plans retention of `catalog` under `policy` at `now`. Every entry gets exactly one
 * decision; the first rule that matches decides:
 *
 * 1. INCOMPLETE_ENTRY (keep): a missing or unknown field — never deleted on a guess.
 * 2. IN_PROGRESS (keep): RUNNING or UPLOADED.
 * 3. FROM_THE_FUTURE (keep): started after `now` (clock skew).
 * 4. NOT_PLANNED_YET (keep): base backups, until WAL archiving brings their rules.
 * 5. FINISH_DELETION (delete): already marked `deleting` by an earlier run.
 * 6. NEWEST_VERIFIED (keep): the newest VERIFIED full logical backup of its database
 *    (not marked, not from the future), however old.
 * 7. FAILED_INVESTIGATION (keep) / FAILED_EXPIRED (delete): FAILED entries are kept
 *    `failedDays`, whatever their tier: they cannot be restored.
 * 8. manual, pre-migration: UNTIL_DELETED (keep) without `expiresAt`; BEFORE_EXPIRY
 *    (keep) / EXPIRED (delete) with one.
 * 9. daily, weekly, monthly: WITHIN_WINDOW (keep) or COLD_STORAGE (cold: a monthly past
 *    `monthlyColdAfterDays`) inside the tier's window; past it, BEFORE_EXPIRY (keep) while
 *    an `expiresAt` lengthens it, else PAST_WINDOW (delete).
 *
 * Ages are measured from `startedAt`; a window boundary is inclusive (kept).
 * Throws InputError for an invalid `now` or policy (never plans with absurd numbers).
 */
export function planRetention(catalog: RetentionCatalog, policy: RetentionPolicy, now: Date): RetentionPlan {
  const at = now.getTime();
  if (!Number.isFinite(at)) throw new InputError('retention was asked to plan at an invalid time', 'pass a valid `now` (the clock)');
  const checked = parseRetentionPolicy(policy);
  const entries = [...catalog.backups].sort(byIdentity);
  const newest = newestVerifiedByDatabase(entries, at);
  const decisions = entries.map((entry): RetentionDecision => {
    const problem = entryProblem(entry);
    const verdict: Verdict = problem
      ? { action: 'keep', rule: 'INCOMPLETE_ENTRY', reason: `kept: ${problem}; fix the entry (or \`strongbox catalog rebuild\`)` }
      : decide(entry, checked, at, newest);
    return {
      subject: 'backup',
      id: field(entry, 'id'),
      database: field(entry, 'database'),
      tier: field(entry, 'tier'),
      state: field(entry, 'state'),
      startedAt: field(entry, 'startedAt'),
      ...verdict,
      entry,
    };
  });
  // Stable sort on top of byIdentity: ties keep the total order.
  decisions.sort((a, b) => compareText(a.database, b.database) || compareTime(b.startedAt, a.startedAt) || compareText(a.id, b.id));
  return {
    now: now.toISOString(),
    policy: checked,
    decisions,
    newestVerified: [...newest.values()].map((entry) => ({ database: entry.database, id: entry.id })).sort((a, b) => compareText(a.database, b.database)),
  };
}
