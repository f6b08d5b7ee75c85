import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { catchUpTier, nextFire, tierFor } from '../../../shared/domain/schedule';

describe('tierFor', () => {
  it.each([
    ['2026-11-01T03:00:00Z', 'monthly'], // a Sunday and the 1st: monthly wins
    ['2026-11-29T03:00:00Z', 'weekly'], // Sunday
    ['2026-11-24T03:00:00Z', 'daily'], // Tuesday
    ['2026-12-01T00:00:00Z', 'monthly'],
    ['2026-11-30T23:59:59Z', 'daily'], // Monday in UTC, whatever the local zone
  ])('%s is %s', (at, tier) => {
    expect(tierFor(new Date(at))).toBe(tier);
  });
});

describe('nextFire', () => {
  it.each([
    ['cron(0 3 * * ? *)', '2026-11-24T02:00:00Z', '2026-11-24T03:00:00.000Z'],
    ['cron(0 3 * * ? *)', '2026-11-24T03:00:00Z', '2026-11-25T03:00:00.000Z'],
    ['cron(0 3 1 * ? *)', '2026-11-24T03:00:00Z', '2026-12-01T03:00:00.000Z'],
    ['cron(0 3 ? * 1 *)', '2026-11-24T03:00:00Z', '2026-11-29T03:00:00.000Z'], // AWS 1 = Sunday
    ['cron(0 3 ? * SUN *)', '2026-11-24T03:00:00Z', '2026-11-29T03:00:00.000Z'],
    ['cron(*/15 * * * ? *)', '2026-11-24T03:07:00Z', '2026-11-24T03:15:00.000Z'],
    ['rate(15 minutes)', '2026-11-24T03:07:00Z', '2026-11-24T03:15:00.000Z'],
    ['rate(1 hour)', '2026-11-24T03:00:00Z', '2026-11-24T04:00:00.000Z'],
  ])('%s after %s is %s', (expression, after, expected) => {
    expect(nextFire(expression, new Date(after)).toISOString()).toBe(expected);
  });

  it.each([['0 3 * * *'], ['cron(0 3 * * ?)'], ['cron(0 3 * * ? 2027)'], ['rate(0 minutes)'], ['cron(0 3 ? * 8 *)'], ['cron(99 3 * * ? *)']])(
    'refuses %s with a hint',
    (expression) => {
      expect(() => nextFire(expression, new Date('2026-11-24T00:00:00Z'))).toThrowError(expect.objectContaining({ code: 'INPUT_INVALID' }));
    },
  );
});

function entry(partial: Partial<BackupEntry>): BackupEntry {
  return {
    id: 'x',
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: 'k',
    manifestKey: 'm',
    compression: 'gzip',
    startedAt: '2026-11-24T03:00:00Z',
    heartbeatAt: '2026-11-24T03:00:00Z',
    ...partial,
  };
}

describe('catchUpTier', () => {
  const now = new Date('2026-11-24T12:00:00Z');
  it.each<[string, BackupEntry[], string | undefined]>([
    ['nothing yet → the longest-kept tier first', [], 'monthly'],
    ['a recent monthly covers everything', [entry({ tier: 'monthly', startedAt: '2026-11-24T03:00:00Z' })], undefined],
    ['an old monthly, a recent weekly and daily', [entry({ tier: 'monthly', startedAt: '2026-11-01T03:00:00Z' }), entry({ tier: 'weekly', startedAt: '2026-11-22T03:00:00Z' }), entry({ tier: 'daily', startedAt: '2026-11-24T03:00:00Z' })], undefined],
    ['monthly too old', [entry({ tier: 'monthly', startedAt: '2026-10-01T03:00:00Z' }), entry({ tier: 'daily', startedAt: '2026-11-24T03:00:00Z' })], 'monthly'],
    ['no weekly in 8 days', [entry({ tier: 'monthly', startedAt: '2026-11-01T03:00:00Z' }), entry({ tier: 'daily', startedAt: '2026-11-24T03:00:00Z' })], 'weekly'],
    ['daily missing only', [entry({ tier: 'monthly', startedAt: '2026-11-20T03:00:00Z' }), entry({ tier: 'daily', startedAt: '2026-11-22T03:00:00Z' })], 'daily'],
    ['FAILED backups do not count', [entry({ tier: 'monthly', state: 'FAILED', startedAt: '2026-11-24T03:00:00Z' })], 'monthly'],
    ['a RUNNING one counts (no second dump beside it)', [entry({ tier: 'monthly', state: 'RUNNING', startedAt: '2026-11-24T11:59:00Z' })], undefined],
    ['another database does not count', [entry({ database: 'other', tier: 'monthly' })], 'monthly'],
    ['tables backups do not count', [entry({ scope: 'tables', tier: 'monthly' })], 'monthly'],
    ['manual backups do not count', [entry({ tier: 'manual' })], 'monthly'],
  ])('%s', (_name, entries, expected) => {
    expect(catchUpTier(entries, 'app', now)).toBe(expected);
  });
});
