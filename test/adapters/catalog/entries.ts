import type { BackupEntry } from '../../../shared/domain/backup';

/** A RUNNING logical backup of `app`, with `overrides` applied. */
export function backupEntry(id: string, overrides: Partial<BackupEntry> = {}): BackupEntry {
  const startedAt = overrides.startedAt ?? '2026-03-01T10:00:00.000Z';
  return {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'manual',
    scope: 'full',
    state: 'RUNNING',
    key: `logical/app/${id}.dump`,
    manifestKey: `logical/app/${id}.manifest.json`,
    compression: 'gzip',
    startedAt,
    heartbeatAt: startedAt,
    ...overrides,
  };
}

/** `2026-03-01T10:MM:SS.000Z` for the n-th minute-and-second, so that order is obvious. */
export function minute(n: number): string {
  const date = new Date(Date.UTC(2026, 2, 1, 10, 0, 0) + n * 61_000);
  return date.toISOString();
}
