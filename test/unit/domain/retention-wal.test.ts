/**
 * The base backup, WAL and restore point rules, case by case, with an explicit `now`:
 * one segment per hour on timeline 1 up to now, a promotion to timeline 2 in some cases.
 */
import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { DEFAULT_RETENTION_POLICY, planRetention, type RetentionPlan, type WalDatabaseView } from '../../../shared/domain/retention';
import { timelinePath } from '../../../shared/domain/wal/history';
import { formatLsn, segmentName, segmentStartLsn } from '../../../shared/domain/wal/names';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = new Date('2026-06-15T12:00:00.000Z');
/** Segment `s` of the hour-per-segment archive was complete `s` hours after this. */
const T0 = NOW.getTime() - 1000 * HOUR;
const at = (s: number) => new Date(T0 + s * HOUR).toISOString();
const low = (s: number) => segmentName(1, BigInt(s)).slice(8);

/** A VERIFIED base backup of `app` from segment `start` to `start + 1` on `timeline`. */
function base(id: string, start: number, overrides: Partial<BackupEntry> & { walIncluded?: boolean; timeline?: number } = {}): BackupEntry {
  const { walIncluded = true, timeline = 1, ...rest } = overrides;
  const tier = rest.tier ?? 'daily';
  const folder = `base/${tier}/app/${id}/`;
  return {
    id,
    database: 'app',
    kind: 'base',
    tier,
    scope: 'full',
    state: 'VERIFIED',
    key: `${folder}dump.zst`,
    manifestKey: `${folder}manifest.json`,
    compression: 'zstd',
    startedAt: at(start - 1),
    finishedAt: at(start + 1),
    heartbeatAt: at(start + 1),
    base: {
      startLsn: formatLsn(segmentStartLsn(BigInt(start)) + 40n),
      stopLsn: formatLsn(segmentStartLsn(BigInt(start + 1)) + 40n),
      timeline,
      stopTimeline: timeline,
      systemId: '1',
      pgVersion: 15,
      walSegments: { first: segmentName(timeline, BigInt(start)), last: segmentName(timeline, BigInt(start + 1)) },
      label: '',
      walIncluded,
    },
    ...rest,
  };
}

function view(overrides: Partial<WalDatabaseView> = {}): WalDatabaseView {
  return { database: 'app', timelines: [{ timeline: 1, updatedAt: at(999) }], paths: new Map([[1, timelinePath(1, [])]]), ...overrides };
}

function plan(backups: BackupEntry[], wal: WalDatabaseView[] = [view()]): RetentionPlan {
  return planRetention({ backups, wal }, DEFAULT_RETENTION_POLICY, NOW);
}

function rules(result: RetentionPlan): Record<string, string> {
  return Object.fromEntries(result.decisions.map((d) => [d.id, `${d.action} ${d.rule}`]));
}

// The window starts 7 days (168 segments) before now: at segment 832.
describe('planRetention: base backups and the PITR window', () => {
  it('keeps the anchor past its tier, the ones inside the window, and deletes the others past their tier', () => {
    // Prepare: 40-day-old daily, the anchor (20 days old, past... no: 9 days), inside the window
    const result = plan([base('old', 10), base('anchor', 780), base('inside', 900), base('older-than-anchor', 700)]);
    // Assess
    expect(rules(result)).toEqual({ old: 'delete PAST_WINDOW', 'older-than-anchor': 'keep WITHIN_WINDOW', anchor: 'keep PITR_ANCHOR', inside: 'keep PITR_WINDOW' });
    expect(result.wal).toEqual([expect.objectContaining({ action: 'delete', rule: 'WAL_CUTOFF', anchors: ['anchor'], mark: expect.objectContaining({ timelines: [{ timeline: 1, deleteBelow: segmentName(1, 780n) }], keep: [] }) })]);
  });

  it('keeps below the cut-off the WAL of a kept base backup whose WAL is not inside it, and not of a deleted one', () => {
    const result = plan([base('monthly', 100, { tier: 'monthly', walIncluded: false }), base('old', 50, { walIncluded: false }), base('anchor', 780)]);
    expect(result.wal[0]?.mark?.keep).toEqual([{ first: low(100), last: low(101), backupId: 'monthly' }]);
    expect(rules(result).old).toBe('delete PAST_WINDOW');
  });

  it('holds every segment when no base backup ended before the window, or one is damaged', () => {
    const noAnchor = plan([base('inside', 900)]);
    const damaged = plan([base('anchor', 780), { ...base('broken', 300), base: undefined } as BackupEntry]);
    expect(noAnchor.wal).toEqual([expect.objectContaining({ action: 'keep', rule: 'WAL_HELD', reason: expect.stringMatching(/no VERIFIED base backup on the path of timeline 1 ended before the window's start/) })]);
    expect(damaged.wal).toEqual([expect.objectContaining({ action: 'keep', rule: 'WAL_HELD', reason: expect.stringMatching(/base backup broken is damaged/) })]);
    expect(rules(damaged).broken).toBe('keep INCOMPLETE_ENTRY');
  });

  it('holds every segment while a base backup older than the window is still RUNNING without its LSNs', () => {
    const running: BackupEntry = { ...base('running', 700), state: 'RUNNING', base: undefined, finishedAt: undefined };
    const fresh: BackupEntry = { ...base('fresh', 990), state: 'RUNNING', base: undefined, finishedAt: undefined };
    expect(plan([base('anchor', 780), running]).wal[0]).toMatchObject({ action: 'keep', rule: 'WAL_HELD' });
    expect(plan([base('anchor', 780), fresh]).wal[0]).toMatchObject({ action: 'delete', rule: 'WAL_CUTOFF' });
  });

  it('follows timelines: a window on timeline 2 needs an anchor on its path; an unreadable history holds everything', () => {
    // Prepare: timeline 2 branched from timeline 1 at segment 600 (a PITR to an older point)
    const switchLsn = segmentStartLsn(600n);
    const both = { timelines: [{ timeline: 1, updatedAt: at(850) }, { timeline: 2, updatedAt: at(999) }], paths: new Map([[1, timelinePath(1, [])], [2, timelinePath(2, [{ parentTimeline: 1, switchLsn, reason: '' }])]]) };
    // timeline 1 went on to 850 after the branch: a base backup at 780 on timeline 1 is not on timeline 2's path
    const backups = [base('tl1-before-branch', 500), base('tl1-after-branch', 780), base('tl2', 800, { timeline: 2 })];
    // Act
    const result = plan(backups, [view(both)]);
    const unknown = plan(backups, [view({ ...both, paths: new Map([[1, timelinePath(1, [])]]) })]);
    // Assess: timeline 1 is in the window (updated at 850) and anchors on tl1-after-branch; timeline 2 on tl2
    expect(rules(result)).toMatchObject({ 'tl1-after-branch': 'keep PITR_ANCHOR', tl2: 'keep PITR_ANCHOR' });
    expect(result.wal[0]).toMatchObject({ rule: 'WAL_CUTOFF', anchors: ['tl1-after-branch', 'tl2'] });
    expect(result.wal[0]?.mark?.timelines).toEqual([{ timeline: 1, deleteBelow: segmentName(1, 780n) }, { timeline: 2, deleteBelow: segmentName(2, 780n) }]);
    expect(unknown.wal[0]).toMatchObject({ action: 'keep', rule: 'WAL_HELD', reason: expect.stringMatching(/history of timeline 2 could not be read/) });
    expect(rules(unknown)).toMatchObject({ 'tl1-before-branch': 'keep PITR_WINDOW', 'tl1-after-branch': 'keep PITR_ANCHOR' });
  });

  it('finishes a pending WAL deletion first, and holds the WAL when the mark is malformed', () => {
    const pending = { at: at(990), rule: 'WAL_CUTOFF', timelines: [{ timeline: 1, deleteBelow: segmentName(1, 700n) }], keep: [] };
    const result = plan([base('anchor', 780)], [view({ pending })]);
    const broken = plan([base('anchor', 780)], [view({ pending: { ...pending, timelines: [{ timeline: 1, deleteBelow: '../etc' }] } })]);
    expect(result.wal.map((d) => d.rule)).toEqual(['FINISH_DELETION', 'WAL_CUTOFF']);
    expect(result.wal[0]?.mark).toEqual(pending);
    expect(broken.wal).toEqual([expect.objectContaining({ action: 'keep', rule: 'WAL_HELD', reason: expect.stringMatching(/malformed/) })]);
  });

  it('keeps base backups and plans no WAL for a database without a WAL view', () => {
    const result = plan([base('old', 10)], []);
    expect(rules(result)).toEqual({ old: 'keep NOT_PLANNED_YET' });
    expect(result.wal).toEqual([]);
  });

  it('a base backup from the future or FAILED is never an anchor', () => {
    const result = plan([{ ...base('failed', 780), state: 'FAILED' }, { ...base('future', 780), startedAt: at(1100) }]);
    expect(rules(result)).toEqual({ failed: 'keep FAILED_INVESTIGATION', future: 'keep FROM_THE_FUTURE' });
    expect(result.wal[0]).toMatchObject({ action: 'keep', rule: 'WAL_HELD' });
  });
});

describe('planRetention: restore points', () => {
  it('drops the ones older than restorePointHours and keeps the rest, the unreadable and those from the future', () => {
    const points = [
      { database: 'app', name: 'new', createdAt: new Date(NOW.getTime() - HOUR).toISOString() },
      { database: 'app', name: 'edge', createdAt: new Date(NOW.getTime() - DAY).toISOString() },
      { database: 'app', name: 'old', createdAt: new Date(NOW.getTime() - DAY - 1).toISOString() },
      { database: 'app', name: 'garbled', createdAt: 'yesterday' },
      { database: 'app', name: 'ahead', createdAt: new Date(NOW.getTime() + HOUR).toISOString() },
    ];
    const result = planRetention({ backups: [], wal: [], restorePoints: points }, DEFAULT_RETENTION_POLICY, NOW);
    expect(Object.fromEntries(result.restorePoints.map((d) => [d.name, `${d.action} ${d.rule}`]))).toEqual({
      new: 'keep WITHIN_WINDOW',
      edge: 'keep WITHIN_WINDOW',
      old: 'delete RESTORE_POINT_EXPIRED',
      garbled: 'keep INCOMPLETE_ENTRY',
      ahead: 'keep FROM_THE_FUTURE',
    });
  });
});
