import { describe, expect, it } from 'vitest';
import { BACKUP_STATES, canTransition, isFinal, staleRunning, statesBefore, type BackupEntry, type BackupState } from '../../../shared/domain/backup';

describe('state transitions', () => {
  it.each<[BackupState, BackupState, boolean]>([
    ['RUNNING', 'UPLOADED', true],
    ['RUNNING', 'VERIFIED', true],
    ['RUNNING', 'FAILED', true],
    ['UPLOADED', 'VERIFIED', true],
    ['UPLOADED', 'FAILED', true],
    ['UPLOADED', 'RUNNING', false],
    ['VERIFIED', 'UPLOADED', false],
    ['VERIFIED', 'FAILED', true],
    ['FAILED', 'VERIFIED', false],
    ['FAILED', 'RUNNING', false],
    ['RUNNING', 'RUNNING', false],
  ])('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });

  it('statesBefore lists exactly the states that may move to a state', () => {
    for (const to of BACKUP_STATES) {
      expect(statesBefore(to).sort()).toEqual(BACKUP_STATES.filter((from) => canTransition(from, to)).sort());
    }
    expect(statesBefore('VERIFIED')).toEqual(['RUNNING', 'UPLOADED']);
  });

  it('only VERIFIED and FAILED are final', () => {
    expect(BACKUP_STATES.filter(isFinal)).toEqual(['VERIFIED', 'FAILED']);
  });
});

describe('staleRunning', () => {
  const base = { database: 'app', kind: 'logical', tier: 'daily', scope: 'full', key: 'k', manifestKey: 'm', compression: 'gzip', startedAt: '2026-11-24T03:00:00Z' } as const;
  const entries: BackupEntry[] = [
    { ...base, id: 'fresh', state: 'RUNNING', heartbeatAt: '2026-11-24T03:09:00Z' },
    { ...base, id: 'stale', state: 'RUNNING', heartbeatAt: '2026-11-24T02:59:00Z' },
    { ...base, id: 'done', state: 'VERIFIED', heartbeatAt: '2026-11-24T01:00:00Z' },
  ];
  it('returns RUNNING entries silent for longer than the limit, only', () => {
    const now = new Date('2026-11-24T03:10:00Z');
    expect(staleRunning(entries, now, 10 * 60_000).map((e) => e.id)).toEqual(['stale']);
    expect(staleRunning(entries, now, 60 * 60_000)).toEqual([]);
  });
});
