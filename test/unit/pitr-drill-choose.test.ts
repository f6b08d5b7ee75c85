import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../shared/ports/catalog';
import type { BackupEntry } from '../../shared/domain/backup';
import { chooseDrillBackup } from '../../shared/usecases/pitr-drill/choose';

function entry(id: string, kind: 'logical' | 'base', startedAt: string, extra: Partial<BackupEntry> = {}): BackupEntry {
  return { id, database: 'app', kind, tier: 'daily', scope: 'full', state: 'VERIFIED', key: `k/${id}`, manifestKey: `m/${id}`, startedAt, finishedAt: startedAt.replace('T03', 'T04'), ...extra } as BackupEntry;
}

/** A catalog answering the two list calls the choice makes (newest first, as the catalog lists). */
function catalog(entries: BackupEntry[]): Catalog {
  const newestFirst = (list: BackupEntry[]) => [...list].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  return {
    listByDatabase: async (database: string, options?: { kind?: string }) => newestFirst(entries.filter((e) => e.database === database && (!options?.kind || e.kind === options.kind))),
    listAll: async (options?: { kind?: string }) => newestFirst(entries.filter((e) => !options?.kind || e.kind === options.kind)),
  } as unknown as Catalog;
}

const entries = [
  entry('l-before', 'logical', '2026-11-01T03:00:00Z'),
  entry('b-1', 'base', '2026-11-02T03:00:00Z'),
  entry('l-1', 'logical', '2026-11-03T03:00:00Z'),
  entry('l-2', 'logical', '2026-11-04T03:00:00Z'),
  entry('l-tables', 'logical', '2026-11-05T03:00:00Z', { scope: 'tables' }),
  entry('l-failed', 'logical', '2026-11-06T03:00:00Z', { state: 'FAILED' }),
];

describe('which logical backup a physical drill recovers to', () => {
  it('latest: the newest VERIFIED full logical backup that began after a base backup ended', async () => {
    expect((await chooseDrillBackup(catalog(entries), 'latest', 'app')).id).toBe('l-2');
    expect((await chooseDrillBackup(catalog(entries), 'latest', undefined)).id).toBe('l-2');
  });

  it('random: any of those inside the window, by the random draw', async () => {
    expect((await chooseDrillBackup(catalog(entries), 'random', 'app', () => 0)).id).toBe('l-2');
    expect((await chooseDrillBackup(catalog(entries), 'random', 'app', () => 0.99)).id).toBe('l-1');
  });

  it('nothing inside the window: BACKUP_NOT_FOUND saying why', async () => {
    await expect(chooseDrillBackup(catalog(entries.filter((e) => e.kind === 'logical')), 'latest', 'app')).rejects.toMatchObject({ code: 'BACKUP_NOT_FOUND', message: expect.stringContaining('no VERIFIED base backup') });
    await expect(chooseDrillBackup(catalog([entry('b-9', 'base', '2026-12-01T03:00:00Z'), ...entries]), 'latest', 'app').then(() => 'chose')).resolves.toBe('chose');
  });
});
