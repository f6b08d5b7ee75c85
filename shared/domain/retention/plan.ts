/**
 * The retention planner: for every backup, keep, delete or cold, and the rule that
 * decided; per database's WAL, a cut-off per timeline (wal-plan.ts) that keeps the PITR
 * window reachable (pitr-window.ts); per restore point, keep or drop. Pure and
 * deterministic: the catalog, the policy and `now` are arguments, and the same catalog in
 * any order gives the same plan. Applying the plan (catalog first, then storage) is
 * usecases/retention.ts.
 */
import { InputError } from '../../errors';
import type { BackupEntry } from '../backup';
import { entryProblem, field } from './entry-check';
import { baseFacts, pitrWindow, type BaseFacts, type PitrWindow } from './pitr-window';
import { parseRetentionPolicy, type RetentionPolicy } from './policy';
import { planRestorePoints } from './restore-points';
import type { RetentionCatalog, RetentionDecision, RetentionPlan, WalDatabaseView, WalDecision } from './types';
import { planWal } from './wal-plan';

const DAY_MS = 86_400_000;

export type { RetentionAction, RetentionCatalog, RetentionDecision, RetentionPlan, RetentionRule } from './types';

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

/** What the base backup rules need: each database's PITR window, when WAL is planned. */
interface Context {
  policy: RetentionPolicy;
  now: number;
  newest: Map<string, BackupEntry>;
  windows: Map<string, PitrWindow>;
  windowStart: number;
}

/** PITR_ANCHOR / PITR_WINDOW for a base backup the window needs, else undefined (its tier decides). */
function pitrVerdict(entry: BackupEntry, context: Context): Verdict | undefined {
  const window = context.windows.get(entry.database);
  if (!window || entry.state !== 'VERIFIED') return undefined;
  const windowDate = new Date(context.windowStart).toISOString();
  if (window.anchors.has(entry.id)) {
    return { action: 'keep', rule: 'PITR_ANCHOR', reason: `the newest VERIFIED base backup that ended before the PITR window's start (${windowDate}): the window starts from it` };
  }
  if (window.unknown) return { action: 'keep', rule: 'PITR_WINDOW', reason: `kept: ${window.unknown}` };
  const finished = Date.parse(entry.finishedAt!);
  if (!(finished < context.windowStart)) {
    return { action: 'keep', rule: 'PITR_WINDOW', reason: `ended ${entry.finishedAt}, inside the PITR window (since ${windowDate}): a way into it` };
  }
  return undefined;
}

/** The rules, in order; `entry` has passed entryProblem. */
function decide(entry: BackupEntry, context: Context): Verdict {
  const { policy, now, newest } = context;
  const started = Date.parse(entry.startedAt);
  const age = now - started;
  if (entry.state === 'RUNNING' || entry.state === 'UPLOADED') {
    return { action: 'keep', rule: 'IN_PROGRESS', reason: `${entry.state}: still being written or verified` };
  }
  if (age < 0) {
    return { action: 'keep', rule: 'FROM_THE_FUTURE', reason: `started ${entry.startedAt}, after now (${new Date(now).toISOString()}): clock skew, kept until the clocks agree` };
  }
  if (entry.kind === 'base' && !context.windows.has(entry.database)) {
    return { action: 'keep', rule: 'NOT_PLANNED_YET', reason: 'base backups are kept until retention plans them with their WAL (no WAL catalog was read)' };
  }
  if (entry.deleting) {
    return { action: 'delete', rule: 'FINISH_DELETION', reason: `marked for deletion at ${entry.deleting.at} (${entry.deleting.rule}): finishing` };
  }
  if (newest.get(entry.database) === entry) {
    return { action: 'keep', rule: 'NEWEST_VERIFIED', reason: `newest VERIFIED full backup of ${entry.database}: always kept` };
  }
  const pitr = entry.kind === 'base' ? pitrVerdict(entry, context) : undefined;
  if (pitr) return pitr;
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
    // The bucket's lifecycle rule acts on logical/monthly/: a base monthly stays where it is.
    if (entry.tier === 'monthly' && entry.kind === 'logical' && age >= policy.monthlyColdAfterDays * DAY_MS) {
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

/** Each database's PITR window, for the databases the catalog has a WAL view of. */
function windowsOf(wal: readonly WalDatabaseView[], entries: readonly BackupEntry[], windowStart: number, now: number): Map<string, PitrWindow> {
  const bases = new Map<string, BaseFacts[]>();
  for (const entry of entries) {
    const facts = baseFacts(entry);
    // An entry from the future (clock skew) is kept, but the window is never built on it.
    if (!facts || Date.parse(entry.startedAt) > now || (facts.finishedAt ?? 0) > now) continue;
    const list = bases.get(entry.database);
    if (list) list.push(facts);
    else bases.set(entry.database, [facts]);
  }
  return new Map(wal.map((view) => [view.database, pitrWindow(view, bases.get(view.database) ?? [], windowStart)]));
}

/**
 * Plans retention of `catalog` under `policy` at `now`. Every backup gets exactly one
 * decision; the first rule that matches decides:
 *
 * 1. INCOMPLETE_ENTRY (keep): a missing or unknown field — never deleted on a guess
 *    (for a base backup also its LSNs, WAL segments and, once VERIFIED, finishedAt).
 * 2. IN_PROGRESS (keep): RUNNING or UPLOADED.
 * 3. FROM_THE_FUTURE (keep): started after `now` (clock skew).
 * 4. NOT_PLANNED_YET (keep): a base backup when the catalog has no WAL view of its database.
 * 5. FINISH_DELETION (delete): already marked `deleting` by an earlier run.
 * 6. NEWEST_VERIFIED (keep): the newest VERIFIED full logical backup of its database
 *    (not marked, not from the future), however old.
 * 7. PITR_ANCHOR / PITR_WINDOW (keep): a VERIFIED base backup the PITR window starts
 *    from (see pitr-window.ts), or one that ended inside the window.
 * 8. FAILED_INVESTIGATION (keep) / FAILED_EXPIRED (delete): FAILED entries are kept
 *    `failedDays`, whatever their tier: they cannot be restored.
 * 9. manual, pre-migration: UNTIL_DELETED (keep) without `expiresAt`; BEFORE_EXPIRY
 *    (keep) / EXPIRED (delete) with one.
 * 10. daily, weekly, monthly: WITHIN_WINDOW (keep) or COLD_STORAGE (cold: a logical
 *    monthly past `monthlyColdAfterDays`) inside the tier's window; past it, BEFORE_EXPIRY
 *    (keep) while an `expiresAt` lengthens it, else PAST_WINDOW (delete).
 *
 * Then, per database with a WAL view, the WAL decisions (wal-plan.ts: a cut-off per
 * timeline, or WAL_HELD), and per restore point RESTORE_POINT_EXPIRED past
 * `restorePointHours`.
 *
 * Ages are measured from `startedAt`; a window boundary is inclusive (kept).
 * Throws InputError for an invalid `now` or policy (never plans with absurd numbers).
 */
export function planRetention(catalog: RetentionCatalog, policy: RetentionPolicy, now: Date): RetentionPlan {
  const at = now.getTime();
  if (!Number.isFinite(at)) throw new InputError('retention was asked to plan at an invalid time', 'pass a valid `now` (the clock)');
  const checked = parseRetentionPolicy(policy);
  const entries = [...catalog.backups].sort(byIdentity);
  const windowStart = at - checked.walDays * DAY_MS;
  const walViews = [...(catalog.wal ?? [])].sort((a, b) => compareText(a.database, b.database));
  const context: Context = { policy: checked, now: at, newest: newestVerifiedByDatabase(entries, at), windows: windowsOf(walViews, entries, windowStart, at), windowStart };
  const byEntry = new Map<BackupEntry, RetentionDecision>();
  const decisions = entries.map((entry): RetentionDecision => {
    const problem = entryProblem(entry);
    const verdict: Verdict = problem
      ? { action: 'keep', rule: 'INCOMPLETE_ENTRY', reason: `kept: ${problem}; fix the entry (or \`strongbox catalog rebuild\`)` }
      : decide(entry, context);
    const decision: RetentionDecision = {
      subject: 'backup',
      id: field(entry, 'id'),
      database: field(entry, 'database'),
      tier: field(entry, 'tier'),
      state: field(entry, 'state'),
      startedAt: field(entry, 'startedAt'),
      ...verdict,
      entry,
    };
    byEntry.set(entry, decision);
    return decision;
  });
  // Stable sort on top of byIdentity: ties keep the total order.
  decisions.sort((a, b) => compareText(a.database, b.database) || compareTime(b.startedAt, a.startedAt) || compareText(a.id, b.id));
  const wal: WalDecision[] = walViews.flatMap((view) =>
    planWal({ view, window: context.windows.get(view.database)!, entries: entries.filter((entry) => field(entry, 'database') === view.database), decisions: byEntry, windowStart, now: now.toISOString() }),
  );
  return {
    now: now.toISOString(),
    policy: checked,
    decisions,
    wal,
    restorePoints: planRestorePoints(catalog.restorePoints ?? [], checked.restorePointHours, at),
    newestVerified: [...context.newest.values()].map((entry) => ({ database: entry.database, id: entry.id })).sort((a, b) => compareText(a.database, b.database)),
  };
}
