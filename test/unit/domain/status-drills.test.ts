import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { databaseStatus, pitrDrillHistory } from '../../../shared/domain/status';

const now = new Date('2026-12-05T12:00:00Z');

function logical(id: string, drill?: BackupEntry['lastPitrDrill']): BackupEntry {
  return { id, database: 'app', kind: 'logical', tier: 'daily', scope: 'full', state: 'VERIFIED', key: `k/${id}`, manifestKey: `m/${id}`, startedAt: '2026-12-01T03:00:00Z', ...(drill ? { lastPitrDrill: drill } : {}) } as BackupEntry;
}

describe('physical drill history', () => {
  it('lists every recorded drill newest first with its RTO and RPO, at most the limit, skipping unreadable times', () => {
    const backups = [
      logical('a', { at: '2026-11-01T04:00:00Z', ok: true, rtoSeconds: 40, replayMBps: 100, rpoSeconds: 12, compared: 9 }),
      logical('b', { at: '2026-12-01T04:00:00Z', ok: false, rtoSeconds: 0, reason: 'RECOVERY_FAILED: x' }),
      logical('c'),
      logical('d', { at: 'not a time', ok: true, rtoSeconds: 1 }),
    ];
    expect(pitrDrillHistory(backups, now)).toEqual([
      { backupId: 'b', at: '2026-12-01T04:00:00Z', ageSeconds: 4 * 86400 + 8 * 3600, ok: false, rtoSeconds: 0, reason: 'RECOVERY_FAILED: x' },
      { backupId: 'a', at: '2026-11-01T04:00:00Z', ageSeconds: 34 * 86400 + 8 * 3600, ok: true, rtoSeconds: 40, replayMBps: 100, rpoSeconds: 12, compared: 9 },
    ]);
    expect(pitrDrillHistory(backups, now, 1).map((d) => d.backupId)).toEqual(['b']);
    expect(databaseStatus({ database: 'app', backups }, now).pitrDrills?.length).toBe(2);
    expect(databaseStatus({ database: 'app', backups: [logical('c')] }, now).pitrDrills).toBeUndefined();
  });
});
