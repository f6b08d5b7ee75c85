/**
 * The retention policy: how long each kind of backup is kept. Defaults are the runbook's
 * table; every number can be set in the `retention` section of strongbox.config.json.
 * Pure: parsing only, no clock.
 */
import { z } from 'zod';
import { InputError } from '../../errors';

/** Days and hours, as the planner uses them (all whole numbers). */
export interface RetentionPolicy {
  /** A `daily` backup is kept this many days after it started. */
  dailyDays: number;
  /** A `weekly` backup (the Sunday daily) is kept this many days. */
  weeklyDays: number;
  /** A `monthly` backup (the daily of the 1st) is kept this many days, in cold storage. */
  monthlyDays: number;
  /**
   * A monthly older than this many days is reported as `cold`: in AWS the bucket's
   * lifecycle rule on `logical/monthly/` has moved it to GLACIER / DEEP_ARCHIVE by then
   * (keep it equal to the rule's `TransitionInDays` in deploy/storage.yml, 1); locally
   * nothing moves.
   */
  monthlyColdAfterDays: number;
  /**
   * A FAILED backup (never restorable) is kept this many days for investigation, whatever
   * its tier, then deleted with whatever partial objects its task left.
   */
  failedDays: number;
  /** WAL segments: kept this many days, and always those a retained base backup needs (with WAL archiving). */
  walDays: number;
  /** Restore points of the 15-minute job: kept this many hours (with WAL archiving). */
  restorePointHours: number;
}

/**
 * The runbook's defaults. Manual and pre-migration backups have no window: they are kept
 * until someone deletes them, or until their own `expiresAt`.
 */
export const DEFAULT_RETENTION_POLICY: Readonly<RetentionPolicy> = Object.freeze({
  dailyDays: 30,
  weeklyDays: 90,
  monthlyDays: 365,
  // deploy/storage.yml moves logical/monthly/ to cold storage after 1 day: the report must agree.
  monthlyColdAfterDays: 1,
  failedDays: 14,
  walDays: 7,
  restorePointHours: 24,
});

/** Ten years: anything longer is a typo (hours for days, an extra zero), not a policy. */
const MAX_DAYS = 3650;

const days = (min: number) => z.number().int().min(min).max(MAX_DAYS);

/**
 * The `retention` section of strongbox.config.json: every field optional (defaults
 * fill the gaps), unknown fields refused so that a misspelt one is not silently ignored.
 */
export const retentionPolicySchema = z
  .object({
    dailyDays: days(1),
    weeklyDays: days(1),
    monthlyDays: days(1),
    monthlyColdAfterDays: days(0),
    failedDays: days(1),
    walDays: days(1),
    restorePointHours: z.number().int().min(1).max(MAX_DAYS * 24),
  })
  .partial()
  .strict();

/** What the `retention` section may hold (before defaults). */
export type RetentionPolicyInput = z.infer<typeof retentionPolicySchema>;

/**
 * The policy from the `retention` section of strongbox.config.json (undefined or null →
 * the defaults). Throws InputError, naming every problem, for a non-object, an unknown
 * field, a value that is not a whole number, negative, zero where zero would delete
 * everything, over ten years, or windows out of order (a weekly is a daily kept longer,
 * a monthly a weekly kept longer; cold storage only inside the monthly window).
 */
export function parseRetentionPolicy(json: unknown): RetentionPolicy {
  const parsed = retentionPolicySchema.safeParse(json ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(retention)'}: ${issue.message}`);
    throw new InputError(
      `the retention policy is invalid: ${problems.join('; ')}`,
      `give whole numbers of days between 1 and ${MAX_DAYS} (restorePointHours in hours), e.g. {"dailyDays": 30, "weeklyDays": 90, "monthlyDays": 365}; docs/retention.md lists the fields`,
    );
  }
  const policy: RetentionPolicy = { ...DEFAULT_RETENTION_POLICY, ...parsed.data };
  const order: Array<[keyof RetentionPolicy, keyof RetentionPolicy, string]> = [
    ['dailyDays', 'weeklyDays', 'a weekly backup is a daily kept longer'],
    ['weeklyDays', 'monthlyDays', 'a monthly backup is a weekly kept longer'],
    ['monthlyColdAfterDays', 'monthlyDays', 'a monthly goes to cold storage while it is still kept'],
  ];
  for (const [shorter, longer, why] of order) {
    if (policy[shorter] > policy[longer]) {
      throw new InputError(
        `the retention policy is invalid: ${shorter} (${policy[shorter]}) is more than ${longer} (${policy[longer]})`,
        `${why}: make ${longer} at least ${shorter} (defaults: daily 30, weekly 90, monthly 365, cold after 1)`,
      );
    }
  }
  return policy;
}

/**
 * The policy read from a config's raw `retention` section, as the CLI and the functions
 * use it: the same as parseRetentionPolicy (kept separate so callers need not know the
 * section may be absent). Throws InputError.
 */
export function retentionPolicyFromConfig(section: unknown): RetentionPolicy {
  return parseRetentionPolicy(section);
}
