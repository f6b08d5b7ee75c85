import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { DEFAULT_RETENTION_POLICY, parseRetentionPolicy, planRetention, type RetentionPolicy } from '../../../shared/domain/retention';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');

function ago(days: number, extraMs = 0): string {
  return new Date(NOW.getTime() - days * DAY - extraMs).toISOString();
}

/** A VERIFIED full logical daily of `app`, stored in its own folder, with `overrides`. */
function entry(id: string, overrides: Partial<BackupEntry> = {}): BackupEntry {
  const tier = overrides.tier ?? 'daily';
  const database = overrides.database ?? 'app';
  const folder = `logical/${tier}/${database}/${id}/`;
  const startedAt = overrides.startedAt ?? ago(1);
  return {
    id,
    database,
    kind: 'logical',
    tier,
    scope: 'full',
    state: 'VERIFIED',
    key: `${folder}dump`,
    manifestKey: `${folder}manifest.json`,
    globalsKey: `${folder}globals.sql`,
    compression: 'gzip',
    startedAt,
    heartbeatAt: startedAt,
    ...overrides,
  };
}

/** The newest backup of `app`: protected, so the other entries of a case meet their own rule. */
const fresh = entry('fresh', { startedAt: ago(0, 3_600_000) });

function decisionsOf(entries: BackupEntry[], policy: RetentionPolicy = DEFAULT_RETENTION_POLICY): Record<string, string> {
  const plan = planRetention({ backups: entries }, policy, NOW);
  return Object.fromEntries(plan.decisions.map((d) => [d.id, `${d.action} ${d.rule}`]));
}

describe('planRetention rules', () => {
  it.each<[string, BackupEntry, string]>([
    ['a daily inside 30 days', entry('d', { startedAt: ago(29) }), 'keep WITHIN_WINDOW'],
    ['a daily exactly 30 days old (boundary kept)', entry('d', { startedAt: ago(30) }), 'keep WITHIN_WINDOW'],
    ['a daily 30 days and 1 ms old', entry('d', { startedAt: ago(30, 1) }), 'delete PAST_WINDOW'],
    ['a weekly 89 days old', entry('w', { tier: 'weekly', startedAt: ago(89) }), 'keep WITHIN_WINDOW'],
    ['a weekly 91 days old', entry('w', { tier: 'weekly', startedAt: ago(91) }), 'delete PAST_WINDOW'],
    ['a monthly half a day old', entry('m', { tier: 'monthly', startedAt: ago(0.5) }), 'keep WITHIN_WINDOW'],
    ['a monthly 1 day old goes cold (the bucket rule\'s day)', entry('m', { tier: 'monthly', startedAt: ago(1) }), 'cold COLD_STORAGE'],
    ['a monthly 300 days old is cold', entry('m', { tier: 'monthly', startedAt: ago(300) }), 'cold COLD_STORAGE'],
    ['a monthly 366 days old', entry('m', { tier: 'monthly', startedAt: ago(366) }), 'delete PAST_WINDOW'],
    ['a manual 1000 days old', entry('x', { tier: 'manual', startedAt: ago(1000) }), 'keep UNTIL_DELETED'],
    ['a pre-migration 1000 days old', entry('x', { tier: 'pre-migration', startedAt: ago(1000) }), 'keep UNTIL_DELETED'],
    ['a manual before its expiresAt', entry('x', { tier: 'manual', startedAt: ago(10), expiresAt: ago(-1) }), 'keep BEFORE_EXPIRY'],
    ['a manual past its expiresAt', entry('x', { tier: 'manual', startedAt: ago(10), expiresAt: ago(1) }), 'delete EXPIRED'],
    ['a daily past its window but before its expiresAt', entry('d', { startedAt: ago(40), expiresAt: ago(-5) }), 'keep BEFORE_EXPIRY'],
    ['an expiresAt does not shorten a window', entry('d', { startedAt: ago(5), expiresAt: ago(2) }), 'keep WITHIN_WINDOW'],
    ['a RUNNING backup 100 days old', entry('r', { state: 'RUNNING', startedAt: ago(100) }), 'keep IN_PROGRESS'],
    ['an UPLOADED backup 100 days old', entry('u', { state: 'UPLOADED', startedAt: ago(100) }), 'keep IN_PROGRESS'],
    ['a FAILED backup 3 days old', entry('f', { state: 'FAILED', startedAt: ago(3) }), 'keep FAILED_INVESTIGATION'],
    ['a FAILED manual 20 days old', entry('f', { state: 'FAILED', tier: 'manual', startedAt: ago(20) }), 'delete FAILED_EXPIRED'],
    ['a daily from the future (clock skew)', entry('z', { startedAt: ago(-2) }), 'keep FROM_THE_FUTURE'],
    ['a marked entry is finished', entry('k', { startedAt: ago(40), deleting: { at: ago(0, 60_000), rule: 'PAST_WINDOW' } }), 'delete FINISH_DELETION'],
    ['a base backup without a WAL view waits for WAL rules', entry('b', { kind: 'base', key: 'base/daily/app/b/base.tar', manifestKey: 'base/daily/app/b/manifest.json', globalsKey: undefined, startedAt: ago(400), finishedAt: ago(400), base: { startLsn: '0/2000028', stopLsn: '0/2000100', timeline: 1, stopTimeline: 1, systemId: '1', pgVersion: 15, walSegments: { first: '000000010000000000000002', last: '000000010000000000000002' }, label: '', walIncluded: true } }), 'keep NOT_PLANNED_YET'],
    ['a VERIFIED base backup without its LSNs', entry('b', { kind: 'base', key: 'base/daily/app/b/base.tar', manifestKey: 'base/daily/app/b/manifest.json', globalsKey: undefined, startedAt: ago(400) }), 'keep INCOMPLETE_ENTRY'],
  ])('%s → %s', (_name, subject, expected) => {
    expect(decisionsOf([fresh, subject])[subject.id]).toBe(expected);
  });

  it.each<[string, Record<string, unknown>]>([
    ['an unknown tier', { tier: 'hourly' }],
    ['an unknown state', { state: 'LOST' }],
    ['an unknown kind', { kind: 'physical' }],
    ['a missing startedAt', { startedAt: undefined }],
    ['an unparseable startedAt', { startedAt: 'last Tuesday' }],
    ['a missing manifestKey', { manifestKey: undefined }],
    ['a dump key in another backup\'s folder', { key: 'logical/daily/app/fresh/dump' }],
    ['a manifest outside any backup folder', { manifestKey: 'manifest.json' }],
    ['a malformed deleting mark', { deleting: { at: 'soon' } }],
    ['an unparseable expiresAt', { tier: 'manual', expiresAt: 'never' }],
  ])('keeps an entry with %s, whatever its age', (_name, damage) => {
    const damaged = { ...entry('bad', { startedAt: ago(900) }), ...damage } as BackupEntry;
    const plan = planRetention({ backups: [fresh, damaged] }, DEFAULT_RETENTION_POLICY, NOW);
    const decision = plan.decisions.find((d) => d.entry === damaged);
    expect(decision).toMatchObject({ action: 'keep', rule: 'INCOMPLETE_ENTRY' });
    expect(decision?.reason).toMatch(/^kept: its /);
  });

  it('keeps the newest VERIFIED full backup of each database however old, and deletes the older ones', () => {
    const decisions = decisionsOf([
      entry('a-old', { startedAt: ago(200) }),
      entry('a-new', { startedAt: ago(100) }),
      entry('a-tables', { startedAt: ago(50), scope: 'tables', tables: ['public.t'] }),
      entry('a-failed', { startedAt: ago(60), state: 'FAILED' }),
      entry('b-only', { database: 'billing', startedAt: ago(500) }),
    ]);
    expect(decisions).toEqual({
      'a-old': 'delete PAST_WINDOW',
      'a-new': 'keep NEWEST_VERIFIED',
      'a-tables': 'delete PAST_WINDOW', // a tables backup cannot stand in for the whole database
      'a-failed': 'delete FAILED_EXPIRED',
      'b-only': 'keep NEWEST_VERIFIED',
    });
  });

  it('protects the newest backup from the past even when a newer one is dated in the future', () => {
    const decisions = decisionsOf([entry('past', { startedAt: ago(100) }), entry('future', { startedAt: ago(-1) })]);
    expect(decisions).toEqual({ past: 'keep NEWEST_VERIFIED', future: 'keep FROM_THE_FUTURE' });
  });

  it('does not let an entry marked for deletion count as the newest: the next one is protected', () => {
    const decisions = decisionsOf([
      entry('marked', { startedAt: ago(40), deleting: { at: ago(0), rule: 'PAST_WINDOW' } }),
      entry('older', { startedAt: ago(60) }),
    ]);
    expect(decisions).toEqual({ marked: 'delete FINISH_DELETION', older: 'keep NEWEST_VERIFIED' });
  });

  it('follows the policy it is given', () => {
    const policy = parseRetentionPolicy({ dailyDays: 7, weeklyDays: 7, monthlyDays: 40, monthlyColdAfterDays: 0, failedDays: 1 });
    const plan = planRetention(
      { backups: [fresh, entry('d', { startedAt: ago(8) }), entry('m', { tier: 'monthly', startedAt: ago(0.5) }), entry('w', { tier: 'weekly', startedAt: ago(7) }), entry('f', { state: 'FAILED', startedAt: ago(2) })] },
      policy,
      NOW,
    );
    const reasons = Object.fromEntries(plan.decisions.map((d) => [d.id, `${d.action} ${d.rule}: ${d.reason}`]));
    expect(reasons).toMatchObject({
      d: 'delete PAST_WINDOW: daily older than 7 days (8.0 days old)',
      m: 'cold COLD_STORAGE: monthly within 40 days (0.5 days old), in cold storage after 0 days',
      w: 'keep WITHIN_WINDOW: weekly within 7 days (7.0 days old)',
      f: 'delete FAILED_EXPIRED: FAILED 2.0 days ago, past the 1 day kept for investigation',
    });
  });

  it('gives reasons with the numbers that decided', () => {
    const plan = planRetention({ backups: [fresh, entry('d', { startedAt: ago(41) }), entry('f', { state: 'FAILED', startedAt: ago(2) })] }, DEFAULT_RETENTION_POLICY, NOW);
    const reasons = Object.fromEntries(plan.decisions.map((d) => [d.id, d.reason]));
    expect(reasons).toEqual({
      fresh: 'newest VERIFIED full backup of app: always kept',
      d: 'daily older than 30 days (41.0 days old)',
      f: 'FAILED 2.0 days ago: FAILED entries are kept 14 days for investigation',
    });
    expect(plan.newestVerified).toEqual([{ database: 'app', id: 'fresh' }]);
    expect(plan.now).toBe(NOW.toISOString());
  });

  it('sorts decisions by database, newest first', () => {
    const plan = planRetention(
      { backups: [entry('a1', { startedAt: ago(3) }), entry('b1', { database: 'billing', startedAt: ago(1) }), entry('a2', { startedAt: ago(1) })] },
      DEFAULT_RETENTION_POLICY,
      NOW,
    );
    expect(plan.decisions.map((d) => d.id)).toEqual(['a2', 'a1', 'b1']);
  });

  it('refuses an invalid now and a policy built by hand with absurd numbers', () => {
    expect(() => planRetention({ backups: [] }, DEFAULT_RETENTION_POLICY, new Date('nope'))).toThrowError(expect.objectContaining({ code: 'INPUT_INVALID' }));
    expect(() => planRetention({ backups: [] }, { ...DEFAULT_RETENTION_POLICY, dailyDays: -1 }, NOW)).toThrowError(expect.objectContaining({ code: 'INPUT_INVALID' }));
  });
});

describe('parseRetentionPolicy', () => {
  it.each([[undefined], [null], [{}]])('gives the runbook defaults for %s', (input) => {
    expect(parseRetentionPolicy(input)).toEqual({ dailyDays: 30, weeklyDays: 90, monthlyDays: 365, monthlyColdAfterDays: 1, failedDays: 14, walDays: 7, restorePointHours: 24 });
  });

  it('fills the fields not given with the defaults', () => {
    expect(parseRetentionPolicy({ dailyDays: 14, walDays: 3 })).toMatchObject({ dailyDays: 14, weeklyDays: 90, walDays: 3 });
  });

  it.each<[string, unknown, RegExp]>([
    ['a negative window', { dailyDays: -1 }, /dailyDays/],
    ['a zero window', { weeklyDays: 0 }, /weeklyDays/],
    ['a fraction', { monthlyDays: 30.5 }, /monthlyDays/],
    ['more than ten years', { monthlyDays: 36500 }, /monthlyDays/],
    ['a string', { dailyDays: '30' }, /dailyDays/],
    ['a misspelt field', { dailyDay: 30 }, /dailyDay/],
    ['a section that is not an object', 30, /retention/],
    ['a weekly window shorter than the daily one', { dailyDays: 30, weeklyDays: 7 }, /weeklyDays/],
    ['a monthly window shorter than the weekly one', { monthlyDays: 60 }, /monthlyDays \(60\)/],
    ['cold storage after the monthly window', { monthlyColdAfterDays: 400 }, /monthlyColdAfterDays/],
    ['a negative cold delay', { monthlyColdAfterDays: -1 }, /monthlyColdAfterDays/],
    ['zero hours of restore points', { restorePointHours: 0 }, /restorePointHours/],
  ])('refuses %s with INPUT_INVALID and a hint', (_name, input, mentions) => {
    let thrown: unknown;
    try {
      parseRetentionPolicy(input);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'INPUT_INVALID', name: 'InputError' });
    expect((thrown as Error).message).toMatch(mentions);
    expect((thrown as { hint: string }).hint.length).toBeGreaterThan(20);
  });
});
