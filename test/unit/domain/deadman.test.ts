import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackupEntry, BackupKind, BackupState, Tier } from '../../../shared/domain/backup';
import { DEFAULT_DEADMAN_POLICY, deadmanFindings, lastDueByTier, schedulesFor, type DeadmanObservation, type DeadmanSchedule } from '../../../shared/domain/deadman';
import { tierFor } from '../../../shared/domain/schedule';

const DAILY = 'cron(0 3 * * ? *)';
const BASE = 'cron(30 2 * * ? *)';
const backupsOnly: DeadmanSchedule = { database: 'app', logical: DAILY, walArchiving: false, validation: false };

let n = 0;
function entry(startedAt: string, fields: { kind?: BackupKind; tier?: Tier; state?: BackupState; database?: string; validatedAt?: string; deleting?: boolean } = {}): BackupEntry {
  const id = `20260101T000000Z-l-${(n++).toString(16).padStart(6, '0')}`;
  return {
    id,
    database: fields.database ?? 'app',
    kind: fields.kind ?? 'logical',
    tier: fields.tier ?? tierFor(new Date(startedAt)),
    scope: 'full',
    state: fields.state ?? 'VERIFIED',
    key: `logical/x/app/${id}/dump`,
    manifestKey: `logical/x/app/${id}/manifest.json`,
    compression: 'gzip',
    startedAt,
    heartbeatAt: startedAt,
    ...(fields.validatedAt ? { lastValidation: { at: fields.validatedAt, ok: true, seconds: 3 } } : {}),
    ...(fields.deleting ? { deleting: { at: startedAt, rule: 'daily' } } : {}),
  };
}
/** A VERIFIED logical backup at 03:00:05 of each day from `first` to `last` (inclusive). */
function nightly(first: string, last: string, fields: Parameters<typeof entry>[1] = {}): BackupEntry[] {
  const out: BackupEntry[] = [];
  for (let at = Date.parse(`${first}T03:00:05Z`); at <= Date.parse(`${last}T03:00:05Z`); at += 86_400_000) out.push(entry(new Date(at).toISOString(), fields));
  return out;
}
const codes = (findings: ReturnType<typeof deadmanFindings>) => findings.map((f) => `${f.code}:${f.kind ?? ''}:${f.tier ?? ''}`);

describe('lastDueByTier', () => {
  it.each([
    // Tuesday 24 Nov 2026, 06:00: last daily firing today; last Sunday the 22nd; the 1st.
    ['2026-11-24T06:00:00Z', { daily: '2026-11-24T03:00:00.000Z', weekly: '2026-11-22T03:00:00.000Z', monthly: '2026-11-01T03:00:00.000Z' }],
    // Before today's firing: yesterday's.
    ['2026-11-24T02:59:00Z', { daily: '2026-11-23T03:00:00.000Z', weekly: '2026-11-22T03:00:00.000Z', monthly: '2026-11-01T03:00:00.000Z' }],
    // On the 1st the monthly firing is also the week's and the day's.
    ['2026-12-01T04:00:00Z', { daily: '2026-12-01T03:00:00.000Z', weekly: '2026-12-01T03:00:00.000Z', monthly: '2026-12-01T03:00:00.000Z' }],
  ])('at %s', (until, expected) => {
    const due = lastDueByTier(DAILY, new Date(Date.parse(until) - 33 * 86_400_000), new Date(until));
    expect(Object.fromEntries(Object.entries(due).map(([tier, at]) => [tier, at.toISOString()]))).toEqual(expected);
  });

  it('finds no weekly tier in a schedule that never fires on Sunday or the 1st', () => {
    // Mondays only (AWS 2 = Monday); the 1st of Nov and Dec 2026 are Sunday and Tuesday.
    const due = lastDueByTier('cron(0 3 ? * 2 *)', new Date('2026-11-02T00:00:00Z'), new Date('2026-11-30T12:00:00Z'));
    expect(Object.keys(due)).toEqual(['daily']);
  });
});

describe('deadmanFindings: backups', () => {
  const now = new Date('2026-11-24T06:00:00Z'); // Tuesday; 3 h after the daily firing
  it.each<[string, BackupEntry[], string[]]>([
    ['a full chain is silent-free', nightly('2026-10-24', '2026-11-24'), []],
    ['today missing: the daily tier', nightly('2026-10-24', '2026-11-23'), ['DEADMAN_BACKUP:logical:daily']],
    ['today FAILED counts as missing', [...nightly('2026-10-24', '2026-11-23'), entry('2026-11-24T03:00:05Z', { state: 'FAILED' })], ['DEADMAN_BACKUP:logical:daily']],
    ['today still UPLOADED after the grace counts as missing', [...nightly('2026-10-24', '2026-11-23'), entry('2026-11-24T03:00:05Z', { state: 'UPLOADED' })], ['DEADMAN_BACKUP:logical:daily']],
    ['a manual backup does not replace the scheduled one', [...nightly('2026-10-24', '2026-11-23'), entry('2026-11-24T03:10:00Z', { tier: 'manual' })], ['DEADMAN_BACKUP:logical:daily']],
    ['an entry retention is deleting does not count', [...nightly('2026-10-24', '2026-11-23'), entry('2026-11-24T03:00:05Z', { deleting: true })], ['DEADMAN_BACKUP:logical:daily']],
    ['another database\'s backup does not count', [...nightly('2026-10-24', '2026-11-23'), entry('2026-11-24T03:00:05Z', { database: 'billing' })], ['DEADMAN_BACKUP:logical:daily']],
    ['a later catch-up of the tier counts', [...nightly('2026-10-24', '2026-11-23'), entry('2026-11-24T05:00:00Z', { tier: 'daily' })], []],
    [
      'Sunday missing: the weekly tier only (the daily chain goes on)',
      nightly('2026-10-24', '2026-11-24').filter((e) => !e.startedAt.startsWith('2026-11-22')),
      ['DEADMAN_BACKUP:logical:weekly'],
    ],
    [
      'the 1st missing: the monthly tier only',
      nightly('2026-10-24', '2026-11-24').filter((e) => !e.startedAt.startsWith('2026-11-01')),
      ['DEADMAN_BACKUP:logical:monthly'],
    ],
    ['never backed up: once, on the most frequent tier', [], ['DEADMAN_BACKUP:logical:daily']],
    ['backed up only since Monday: no weekly or monthly expected yet', nightly('2026-11-23', '2026-11-24'), []],
    ['since Monday, today missing: the daily tier only', nightly('2026-11-23', '2026-11-23'), ['DEADMAN_BACKUP:logical:daily']],
    ['a FAILED first attempt starts the expectations too', [entry('2026-11-10T03:00:05Z', { state: 'FAILED' }), ...nightly('2026-11-11', '2026-11-24')], []],
    ['a FAILED first attempt, then nothing', [entry('2026-10-10T03:00:05Z', { state: 'FAILED' })], ['DEADMAN_BACKUP:logical:daily', 'DEADMAN_BACKUP:logical:weekly', 'DEADMAN_BACKUP:logical:monthly']],
  ])('%s', (_, backups, expected) => {
    expect(codes(deadmanFindings(backupsOnly, { backups }, now))).toEqual(expected);
  });

  it('waits for the grace before calling a backup missing', () => {
    const backups = nightly('2026-10-24', '2026-11-23');
    expect(deadmanFindings(backupsOnly, { backups }, new Date('2026-11-24T04:59:59Z'))).toEqual([]);
    const [finding, ...others] = deadmanFindings(backupsOnly, { backups }, new Date('2026-11-24T05:00:00Z'));
    expect(others).toEqual([]);
    expect(finding).toMatchObject({
      database: 'app',
      check: 'backup',
      severity: 'SEV2',
      dueAt: '2026-11-24T03:00:00.000Z',
      lastSeenAt: '2026-11-23T03:00:05.000Z',
      hint: expect.stringContaining('strongbox backup --database app'),
    });
  });

  it('checks base backups on their own schedule, SEV3 for the longer tiers', () => {
    const schedule: DeadmanSchedule = { ...backupsOnly, base: BASE };
    const logical = nightly('2026-10-24', '2026-11-24');
    const base = nightly('2026-10-24', '2026-11-23', { kind: 'base' }).map((e) => ({ ...e, startedAt: e.startedAt.replace('T03:00', 'T02:30') }));
    const findings = deadmanFindings(schedule, { backups: [...logical, ...base] }, now);
    expect(codes(findings)).toEqual(['DEADMAN_BACKUP:base:daily']);
    expect(findings[0]!.hint).toContain('--type base');
    const noMonthly = deadmanFindings(schedule, { backups: [...logical, ...base.filter((e) => !e.startedAt.startsWith('2026-11-01'))] }, now);
    expect(noMonthly.map((f) => [f.tier, f.severity])).toEqual([['daily', 'SEV2'], ['monthly', 'SEV3']]);
  });

  it('refuses a schedule that is not EventBridge syntax', () => {
    expect(() => deadmanFindings({ ...backupsOnly, logical: '0 3 * * *' }, { backups: [] }, now)).toThrow(/not an EventBridge expression/);
  });

  it('property: a VERIFIED backup at every firing is never missing; without the last due one (and any later) it always is', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 24 }), fc.integer({ min: 0, max: 59 }), (hours, minute) => {
        const at = new Date(Date.UTC(2026, 0, 1) + hours * 3_600_000 + minute * 60_000);
        const backups = nightly(new Date(at.getTime() - 40 * 86_400_000).toISOString().slice(0, 10), at.toISOString().slice(0, 10)).filter((e) => Date.parse(e.startedAt) <= at.getTime());
        expect(deadmanFindings(backupsOnly, { backups }, at)).toEqual([]);
        const cutoff = at.getTime() - DEFAULT_DEADMAN_POLICY.backupGraceMs;
        const dueToday = backups.filter((e) => Date.parse(e.startedAt) - 5_000 <= cutoff).at(-1)!;
        const without = backups.filter((e) => Date.parse(e.startedAt) < Date.parse(dueToday.startedAt));
        expect(codes(deadmanFindings(backupsOnly, { backups: without }, at))).toContain(`DEADMAN_BACKUP:logical:${dueToday.tier}`);
      }),
      { numRuns: 60 },
    );
  });
});

describe('deadmanFindings: WAL', () => {
  const wal: DeadmanSchedule = { database: 'app', walArchiving: true, validation: false };
  const now = new Date('2026-11-24T12:00:00Z');
  const obs = (status: DeadmanObservation['archiveStatus'], lastWalArrivalAt?: string): DeadmanObservation => ({
    backups: [],
    ...(status ? { archiveStatus: status } : {}),
    ...(lastWalArrivalAt ? { lastWalArrivalAt } : {}),
  });
  it.each<[string, DeadmanObservation, string[]]>([
    ['checkpoint fresh, WAL archived and received', obs({ measuredAt: '2026-11-24T11:50:00Z', lastArchivedAt: '2026-11-24T11:49:58Z' }, '2026-11-24T11:49:59Z'), []],
    ['received a little after the checkpoint measured (indexing)', obs({ measuredAt: '2026-11-24T11:58:00Z', lastArchivedAt: '2026-11-24T11:57:59Z' }, '2026-11-24T11:43:00Z'), []],
    ['no status at all: the checkpoint never ran', obs(undefined), ['DEADMAN_WAL_CHECKPOINT::']],
    ['status older than two checkpoint periods', obs({ measuredAt: '2026-11-24T11:29:59Z', lastArchivedAt: '2026-11-24T11:29:58Z' }, '2026-11-24T11:29:59Z'), ['DEADMAN_WAL_CHECKPOINT::']],
    ['up, but nothing archived within archive_timeout × 2', obs({ measuredAt: '2026-11-24T11:50:00Z', lastArchivedAt: '2026-11-24T11:47:59Z' }, '2026-11-24T11:48:00Z'), ['DEADMAN_WAL::']],
    ['up, and never archived', obs({ measuredAt: '2026-11-24T11:50:00Z' }), ['DEADMAN_WAL::']],
    ['archived by the server but never received by the archive', obs({ measuredAt: '2026-11-24T11:50:00Z', lastArchivedAt: '2026-11-24T11:49:58Z' }, '2026-11-24T11:30:00Z'), ['DEADMAN_WAL::']],
    ['no arrival recorded at all, past the indexing grace', obs({ measuredAt: '2026-11-24T11:50:00Z', lastArchivedAt: '2026-11-24T11:49:58Z' }), ['DEADMAN_WAL::']],
  ])('%s', (_, observation, expected) => {
    expect(codes(deadmanFindings(wal, observation, now))).toEqual(expected);
  });

  it('uses the configured archive_timeout', () => {
    const observation = obs({ measuredAt: '2026-11-24T11:50:00Z', lastArchivedAt: '2026-11-24T11:40:00Z' }, '2026-11-24T11:40:01Z');
    expect(deadmanFindings(wal, observation, now, { ...DEFAULT_DEADMAN_POLICY, archiveTimeoutSeconds: 300 })).toEqual([]);
    const [finding] = deadmanFindings(wal, observation, now, { ...DEFAULT_DEADMAN_POLICY, archiveTimeoutSeconds: 120 });
    expect(finding).toMatchObject({ severity: 'SEV2', lastSeenAt: '2026-11-24T11:40:00Z', dueAt: '2026-11-24T11:44:00.000Z' });
    expect(finding!.message).toContain('archive_timeout × 2 = 240 s');
  });
});

describe('deadmanFindings: validation', () => {
  const drill: DeadmanSchedule = { database: 'app', walArchiving: false, validation: true };
  const now = new Date('2026-11-24T12:00:00Z');
  it.each<[string, BackupEntry[], string[]]>([
    ['validated 31 days ago: within the grace', [entry('2026-09-01T03:00:05Z', { validatedAt: '2026-10-24T12:00:00Z' })], []],
    ['validated 32 days and a second ago', [entry('2026-09-01T03:00:05Z', { validatedAt: '2026-10-23T11:59:59Z' })], ['DEADMAN_VALIDATION::']],
    ['never validated, backups for two months', [entry('2026-09-24T03:00:05Z'), entry('2026-11-24T03:00:05Z')], ['DEADMAN_VALIDATION::']],
    ['never validated, but backed up only for a week', [entry('2026-11-17T03:00:05Z')], []],
    ['a failed drill still ran (VALIDATION_FAILED covers it)', [{ ...entry('2026-09-01T03:00:05Z'), lastValidation: { at: '2026-11-20T00:00:00Z', ok: false, seconds: 1 } }], []],
  ])('%s', (_, backups, expected) => {
    const findings = deadmanFindings(drill, { backups }, now);
    expect(codes(findings)).toEqual(expected);
    for (const finding of findings) expect(finding).toMatchObject({ severity: 'SEV3', hint: expect.stringContaining('strongbox validate latest --database app') });
  });
});

describe('schedulesFor', () => {
  it('fills in the default logical schedule and the shared settings', () => {
    expect(schedulesFor([{ name: 'app' }, { name: 'billing', schedule: 'cron(30 1 * * ? *)' }], { logical: DAILY, base: BASE, walArchiving: true, validation: false })).toEqual([
      { database: 'app', logical: DAILY, base: BASE, walArchiving: true, validation: false },
      { database: 'billing', logical: 'cron(30 1 * * ? *)', base: BASE, walArchiving: true, validation: false },
    ]);
  });
});
