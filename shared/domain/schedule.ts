import { CronExpressionParser } from 'cron-parser';
import { InputError } from '../errors';
import type { BackupEntry, Tier } from './backup';

/**
 * Schedules: the EventBridge expressions of serverless.yml (`cron(...)`, `rate(...)`),
 * evaluated here so that local mode fires at the same moments. Pure: `now` is a parameter.
 */

/**
 * The tier of the daily backup written on `date` (UTC): monthly on the 1st, weekly on
 * Sundays, daily otherwise (grandfather-father-son: one dump, kept longer).
 */
export function tierFor(date: Date): Tier {
  if (date.getUTCDate() === 1) return 'monthly';
  if (date.getUTCDay() === 0) return 'weekly';
  return 'daily';
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.+)\)$/;
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** AWS numbers days of the week 1–7 from Sunday; standard cron 0–6. Names are the same. */
function awsDayOfWeekToCron(field: string): string {
  return field.replace(/\d+/g, (digits) => {
    const day = Number(digits);
    if (day < 1 || day > 7) throw new InputError(`day of week ${digits} is out of range in a cron expression`, 'AWS cron numbers days 1 (Sunday) to 7 (Saturday)');
    return String(day - 1);
  });
}

/**
 * The first moment strictly after `after` at which the EventBridge schedule
 * expression fires. Supports `rate(N unit)` (counted from `anchor`, default the epoch)
 * and six-field `cron(min hour day-of-month month day-of-week year)` in UTC with `*` years.
 * Throws InputError for anything else.
 */
export function nextFire(expression: string, after: Date, anchor: Date = new Date(0)): Date {
  const rate = RATE.exec(expression.trim());
  if (rate) {
    const unit = rate[2]!.replace(/s$/, '');
    const period = Number(rate[1]) * UNIT_MS[unit]!;
    if (period <= 0) throw new InputError(`schedule ${expression} has a zero period`, 'use rate(1 minute) or more');
    const elapsed = after.getTime() - anchor.getTime();
    return new Date(anchor.getTime() + (Math.floor(elapsed / period) + 1) * period);
  }
  const cron = CRON.exec(expression.trim());
  if (!cron) {
    throw new InputError(`schedule ${JSON.stringify(expression)} is not an EventBridge expression`, 'use cron(0 3 * * ? *) or rate(15 minutes)');
  }
  const fields = cron[1]!.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new InputError(`schedule ${expression} has ${fields.length} fields`, 'EventBridge cron has six: minutes hours day-of-month month day-of-week year');
  }
  const [minute, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if (year !== '*') throw new InputError(`schedule ${expression} restricts the year`, 'use * for the year field');
  try {
    const parsed = CronExpressionParser.parse(`${minute} ${hour} ${dom} ${month} ${awsDayOfWeekToCron(dow)}`, {
      currentDate: after,
      tz: 'UTC',
    });
    return parsed.next().toDate();
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`schedule ${expression} cannot be parsed: ${(error as Error).message}`, 'check the cron fields', { cause: error });
  }
}

/** How recent a VERIFIED backup of each scheduled tier must be for the chain to count as up to date. */
export const TIER_PERIOD_MS: Record<'daily' | 'weekly' | 'monthly', number> = {
  daily: 26 * 3_600_000,
  weekly: 8 * 86_400_000,
  monthly: 32 * 86_400_000,
};

const LONGEST_FIRST = ['monthly', 'weekly', 'daily'] as const;

/**
 * What a fresh start must back up at once instead of waiting for the schedule: the
 * longest-kept tier that has no VERIFIED full logical backup of `database` within its
 * period (a monthly counts as a weekly and a daily too), or undefined when the chain is
 * up to date. Entries still RUNNING or UPLOADED in the period count as present, so that a
 * restart does not start a second dump beside a running one.
 */
export function catchUpTier(entries: readonly BackupEntry[], database: string, now: Date): Tier | undefined {
  const chain = entries.filter(
    (entry) => entry.database === database && entry.kind === 'logical' && entry.scope === 'full' && entry.state !== 'FAILED',
  );
  const covers = (tier: 'daily' | 'weekly' | 'monthly', entry: BackupEntry): boolean => {
    const rank = LONGEST_FIRST.indexOf(tier);
    const entryRank = LONGEST_FIRST.indexOf(entry.tier as (typeof LONGEST_FIRST)[number]);
    return entryRank !== -1 && entryRank <= rank && now.getTime() - Date.parse(entry.startedAt) < TIER_PERIOD_MS[tier];
  };
  return LONGEST_FIRST.find((tier) => !chain.some((entry) => covers(tier, entry)));
}

/**
 * Every moment in (`from`, `to`] at which the EventBridge expression fires, oldest first
 * (rates counted from `anchor`, default the epoch: `rate(15 minutes)` fires at :00, :15, …).
 * At most `limit` (default 1,000) moments: a window is meant to be minutes long.
 */
export function firesIn(expression: string, from: Date, to: Date, anchor: Date = new Date(0), limit = 1000): Date[] {
  const fires: Date[] = [];
  for (let at = nextFire(expression, from, anchor); at.getTime() <= to.getTime() && fires.length < limit; at = nextFire(expression, at, anchor)) fires.push(at);
  return fires;
}
