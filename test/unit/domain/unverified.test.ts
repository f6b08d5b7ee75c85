import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { DEFAULT_VERIFY_POLICY, planUnverified } from '../../../shared/domain/unverified';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const HOUR = 3_600_000;
const at = (hoursAgo: number): string => new Date(NOW.getTime() - hoursAgo * HOUR).toISOString();

function entry(id: string, fields: Partial<BackupEntry>): BackupEntry {
  return {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'UPLOADED',
    key: `logical/daily/app/${id}/dump`,
    manifestKey: `logical/daily/app/${id}/manifest.json`,
    compression: 'gzip',
    startedAt: at(5),
    heartbeatAt: at(5),
    ...fields,
  };
}

describe('planUnverified', () => {
  it.each([
    ['uploaded 30 min ago: still within its time', { finishedAt: at(0.5) }, undefined],
    ['uploaded 1 h ago, never asked again: asked (1)', { finishedAt: at(1) }, { action: 'reverify', attempt: 1 }],
    ['asked once 20 min ago: waits', { finishedAt: at(2), reverify: { at: at(1 / 3), attempts: 1 } }, undefined],
    ['asked once 1 h ago: asked (2)', { finishedAt: at(2), reverify: { at: at(1), attempts: 1 } }, { action: 'reverify', attempt: 2 }],
    ['asked twice, the last 1 h ago: fails', { finishedAt: at(3), reverify: { at: at(1), attempts: 2 } }, { action: 'fail', reason: expect.stringMatching(/not VERIFIED 3\.0 h after its upload ended .* asked again 2 time\(s\)/) }],
    ['no finishedAt: the heartbeat is the clock', { heartbeatAt: at(2) }, { action: 'reverify', attempt: 1 }],
    ['being deleted by retention: left to retention', { finishedAt: at(9), deleting: { at: at(1), rule: 'daily window' } }, undefined],
    ['VERIFIED: nothing to do', { state: 'VERIFIED', finishedAt: at(9) }, undefined],
    ['RUNNING: the stale-heartbeat rule, not this one', { state: 'RUNNING', finishedAt: at(9) }, undefined],
  ] as const)('%s', (_name, fields, expected) => {
    const decisions = planUnverified([entry('20261204T060000Z-l-aaaaaa', fields as Partial<BackupEntry>)], NOW, DEFAULT_VERIFY_POLICY);
    if (expected === undefined) expect(decisions).toEqual([]);
    else expect(decisions).toEqual([expect.objectContaining(expected)]);
  });

  it('follows the policy it is given', () => {
    const decisions = planUnverified([entry('20261204T060000Z-l-bbbbbb', { finishedAt: at(0.5) })], NOW, { verifyWithinMs: 10 * 60_000, maxReverifies: 0 });
    expect(decisions).toEqual([expect.objectContaining({ action: 'fail' })]);
  });
});
