import { describe, expect, it } from 'vitest';
import { parseTempName, tempName } from '../../../shared/adapters/storage/folder-tmp';
import type { BackupEntry, BackupState } from '../../../shared/domain/backup';
import { backupIdOfKey } from '../../../shared/domain/keys';
import { judgeUnfinishedWrite, type UnfinishedFacts, type UnfinishedRule } from '../../../shared/domain/unfinished-writes';

const NOW = new Date('2026-11-24T03:10:00.000Z');
const STALE_MS = 10 * 60_000;
const ID = '20261124T030000Z-l-abc123';
const ago = (ms: number): Date => new Date(NOW.getTime() - ms);

function entry(state: BackupState, heartbeatAgoMs: number, runner = 'pid:4242@laptop'): BackupEntry {
  return {
    id: ID,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state,
    key: `logical/daily/app/${ID}/dump`,
    manifestKey: `logical/daily/app/${ID}/manifest.json`,
    compression: 'gzip',
    startedAt: ago(STALE_MS * 3).toISOString(),
    heartbeatAt: ago(heartbeatAgoMs).toISOString(),
    runner,
  };
}

describe('judgeUnfinishedWrite', () => {
  it.each<[string, UnfinishedFacts, 'discard' | 'keep', UnfinishedRule]>([
    // A backup's write: its catalog entry decides
    ['live backup, runner alive, fresh heartbeat', { backupId: ID, entry: entry('RUNNING', 30_000), runnerAlive: true, writerAlive: true, lastWriteAt: ago(1000) }, 'keep', 'BACKUP_LIVE'],
    ['live backup in AWS (no process facts), quiet write (pg_dump waiting on a lock)', { backupId: ID, entry: entry('RUNNING', 30_000, 'ecs:ip-10-0-0-1'), startedAt: ago(STALE_MS * 50) }, 'keep', 'BACKUP_LIVE'],
    ['RUNNING, its local runner dead (kill -9)', { backupId: ID, entry: entry('RUNNING', 1000), runnerAlive: false, lastWriteAt: ago(1000) }, 'discard', 'BACKUP_DEAD'],
    ['RUNNING, no heartbeat past the bound', { backupId: ID, entry: entry('RUNNING', STALE_MS + 1), startedAt: ago(STALE_MS * 2) }, 'discard', 'BACKUP_DEAD'],
    ['RUNNING, heartbeat exactly at the bound', { backupId: ID, entry: entry('RUNNING', STALE_MS), startedAt: ago(STALE_MS * 2) }, 'keep', 'BACKUP_LIVE'],
    ['FAILED backup', { backupId: ID, entry: entry('FAILED', 0), runnerAlive: true, lastWriteAt: ago(0) }, 'discard', 'BACKUP_OVER'],
    ['UPLOADED backup (its writes are over)', { backupId: ID, entry: entry('UPLOADED', 0), lastWriteAt: ago(0) }, 'discard', 'BACKUP_OVER'],
    ['VERIFIED backup', { backupId: ID, entry: entry('VERIFIED', 0), startedAt: ago(0) }, 'discard', 'BACKUP_OVER'],
    ['the writer named in the file is dead, though its backup runs again (a relaunch)', { backupId: ID, entry: entry('RUNNING', 0), runnerAlive: true, writerAlive: false, lastWriteAt: ago(0) }, 'discard', 'WRITER_GONE'],
    ['backup not in the catalog, older than the bound', { backupId: ID, startedAt: ago(STALE_MS + 1) }, 'discard', 'BACKUP_UNKNOWN'],
    ['backup not in the catalog, recent', { backupId: ID, lastWriteAt: ago(1000) }, 'keep', 'RECENT'],
    ['backup not in the catalog, age unknown', { backupId: ID }, 'keep', 'RECENT'],
    // No backup owns it: only the write's own silence, or its dead writer, can tell
    ['no owner, quiet past the bound', { lastWriteAt: ago(STALE_MS + 1) }, 'discard', 'QUIET'],
    ['no owner, written to just now', { lastWriteAt: ago(10) }, 'keep', 'RECENT'],
    ['no owner, writer dead', { writerAlive: false, lastWriteAt: ago(10) }, 'discard', 'WRITER_GONE'],
    ['no owner, S3 (no write time), begun long ago', { startedAt: ago(STALE_MS * 100) }, 'keep', 'UNATTRIBUTED'],
  ])('%s → %s (%s)', (_name, facts, action, rule) => {
    const verdict = judgeUnfinishedWrite(facts, { now: NOW, staleAfterMs: STALE_MS });
    expect(verdict).toMatchObject({ action, rule });
    expect(verdict.reason).not.toBe('');
  });
});

describe('backupIdOfKey', () => {
  it.each<[string, string | undefined]>([
    [`logical/daily/app/${ID}/dump`, ID],
    [`base/weekly/app.v2/20261124T030000Z-b-0f0f0f/dump.zst`, '20261124T030000Z-b-0f0f0f'],
    [`logical/daily/app/${ID}/manifest.json`, ID],
    [`logical/daily/app/not-an-id/dump`, undefined],
    [`logical/daily/app/${ID}/deeper/dump`, undefined],
    ['wal/app/000000010000000000000003.zst', undefined],
    [`other/daily/app/${ID}/dump`, undefined],
  ])('%s → %s', (key, id) => expect(backupIdOfKey(key)).toBe(id));
});

describe('the repository folder names its temporary files after their key and writer', () => {
  it.each([`logical/daily/app/${ID}/dump`, 'wal/app/0000000100000000000000AB', 'odd keys/with+plus@at%percent/é'])('%s round-trips', (key) => {
    const name = tempName(key, { pid: 4242, host: 'ip-10-0-0-1.ec2.internal' });
    expect(name).toMatch(/\.part$/);
    expect(name).not.toContain('/');
    expect(parseTempName(name)).toEqual({ key, writer: { pid: 4242, host: 'ip-10-0-0-1.ec2.internal' } });
  });

  it('leaves a key out that would make the name too long for a filesystem, keeping the writer', () => {
    const name = tempName(`${'k'.repeat(300)}/dump`, { pid: 7, host: 'laptop' });
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(parseTempName(name)).toEqual({ writer: { pid: 7, host: 'laptop' } });
  });

  it.each<[string, ReturnType<typeof parseTempName>]>([
    ['3f1c2a9e-0000-4000-8000-000000000000.part', {}], // named before names carried anything
    ['notes.txt', undefined],
    ['a+b.part', undefined],
    ['a+0@h+u.part', undefined],
    ['a+12@%E0%A4%A+u.part', undefined],
  ])('%s parses as %o', (name, parsed) => expect(parseTempName(name)).toEqual(parsed));
});
