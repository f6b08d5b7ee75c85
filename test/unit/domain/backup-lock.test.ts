import { describe, expect, it } from 'vitest';
import type { BackupEntry, BackupState } from '../../../shared/domain/backup';
import { describeRunner, judgeLockHolder, localRunner, lockExpiresAt, parseLocalRunner, type HolderVerdict } from '../../../shared/domain/backup-lock';

const NOW = new Date('2026-11-24T03:10:00.000Z');
const STALE_MS = 10 * 60_000;

function holder(state: BackupState, heartbeatAt: string, runner?: string): BackupEntry {
  return {
    id: '20261124T030000Z-l-holder',
    database: 'app',
    kind: 'logical',
    tier: 'manual',
    scope: 'full',
    state,
    key: 'k',
    manifestKey: 'm',
    compression: 'gzip',
    startedAt: '2026-11-24T03:00:00.000Z',
    heartbeatAt,
    ...(runner ? { runner } : {}),
  };
}

describe('local runners', () => {
  it.each<[string | undefined, { pid: number; host: string } | undefined, string]>([
    ['pid:4242@laptop', { pid: 4242, host: 'laptop' }, 'pid 4242 on laptop'],
    ['pid:1@ip-10-0-0-1.ec2.internal', { pid: 1, host: 'ip-10-0-0-1.ec2.internal' }, 'pid 1 on ip-10-0-0-1.ec2.internal'],
    ['pid:4242', undefined, 'process 4242 (host not recorded)'],
    ['pid:0@laptop', undefined, 'task pid:0@laptop'],
    ['pid:@laptop', undefined, 'task pid:@laptop'],
    ['ecs:ip-10-0-0-1', undefined, 'task ecs:ip-10-0-0-1'],
    ['launching', undefined, 'task launching'],
    [undefined, undefined, 'unknown runner'],
  ])('%s → %o, described as %s', (runner, parsed, described) => {
    expect(parseLocalRunner(runner)).toEqual(parsed);
    expect(describeRunner(runner)).toBe(described);
  });

  it('localRunner writes what parseLocalRunner reads', () => {
    expect(parseLocalRunner(localRunner(31337, 'db-host'))).toEqual({ pid: 31337, host: 'db-host' });
  });
});

describe('judgeLockHolder', () => {
  const fresh = '2026-11-24T03:09:30.000Z';
  const stale = '2026-11-24T02:59:00.000Z';
  it.each<[string, BackupEntry | undefined, boolean | undefined, HolderVerdict]>([
    ['no entry: free', undefined, undefined, { verdict: 'free' }],
    ['VERIFIED holder: free', holder('VERIFIED', stale), undefined, { verdict: 'free' }],
    ['FAILED holder: free', holder('FAILED', fresh), true, { verdict: 'free' }],
    ['RUNNING, fresh heartbeat, process alive: live until heartbeat + stale', holder('RUNNING', fresh, 'pid:7@h'), true, { verdict: 'live', expiresAt: '2026-11-24T03:19:30.000Z' }],
    ['RUNNING, fresh heartbeat, liveness unknown: live', holder('RUNNING', fresh, 'ecs:task'), undefined, { verdict: 'live', expiresAt: '2026-11-24T03:19:30.000Z' }],
    [
      'RUNNING, fresh heartbeat, its local process dead: dead at once',
      holder('RUNNING', fresh, 'pid:7@h'),
      false,
      { verdict: 'dead', errorCode: 'RUNNER_GONE', reason: 'its process is gone (pid 7 on h): it stopped without finishing' },
    ],
    ['RUNNING, stale heartbeat: dead', holder('RUNNING', stale, 'ecs:task'), undefined, { verdict: 'dead', errorCode: 'HEARTBEAT_LOST', reason: `no heartbeat since ${stale}: its task stopped` }],
    ['UPLOADED: live, no expiry (its checksum makes it final)', holder('UPLOADED', stale), undefined, { verdict: 'live' }],
  ])('%s', (_name, entry, runnerAlive, expected) => {
    expect(judgeLockHolder(entry, { now: NOW, staleAfterMs: STALE_MS, ...(runnerAlive === undefined ? {} : { runnerAlive }) })).toEqual(expected);
  });

  it('the expiry is the last heartbeat plus the stale limit, in UTC', () => {
    expect(lockExpiresAt(holder('RUNNING', '2026-11-24T03:00:00.000Z'), 16 * 60_000)).toBe('2026-11-24T03:16:00.000Z');
  });
});
