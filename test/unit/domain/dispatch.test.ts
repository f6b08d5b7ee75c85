import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDeployConfig, type DeployConfig } from '../../../shared/domain/deploy-config';
import { dispatchWindow, dueJobs } from '../../../shared/domain/dispatch';
import { firesIn } from '../../../shared/domain/schedule';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/prod/app-AbCdEf';
const config = (databases: DeployConfig['databases']): DeployConfig => ({ databases, baseBackup: 'cron(30 2 * * ? *)', walCheckpoint: 'rate(15 minutes)', validation: 'cron(0 4 1 * ? *)' });
const db = (name: string, schedule = 'cron(0 3 * * ? *)') => ({ name, secretArn: SECRET, schedule });
const at = (iso: string) => new Date(iso);
const kinds = (jobs: ReturnType<typeof dueJobs>) => jobs.map((job) => `${job.kind}:${job.database.name}@${job.at.toISOString().slice(11, 16)}`);

describe('firesIn', () => {
  it('lists the moments in (from, to], a cron and a rate anchored at the epoch', () => {
    expect(firesIn('cron(0 3 * * ? *)', at('2026-12-04T02:59:00Z'), at('2026-12-04T03:00:00Z'))).toEqual([at('2026-12-04T03:00:00Z')]);
    expect(firesIn('cron(0 3 * * ? *)', at('2026-12-04T03:00:00Z'), at('2026-12-04T03:01:00Z'))).toEqual([]);
    expect(firesIn('rate(15 minutes)', at('2026-12-04T03:00:00Z'), at('2026-12-04T04:00:00Z')).map((d) => d.toISOString())).toEqual(['2026-12-04T03:15:00.000Z', '2026-12-04T03:30:00.000Z', '2026-12-04T03:45:00.000Z', '2026-12-04T04:00:00.000Z']);
  });
});

describe('dispatchWindow', () => {
  it('is the minute that ended at the firing, whatever the second EventBridge fired at', () => {
    expect(dispatchWindow(at('2026-12-04T03:00:37.120Z'))).toEqual({ from: at('2026-12-04T02:59:00Z'), to: at('2026-12-04T03:00:00Z') });
  });

  it('covers every moment exactly once over consecutive firings (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59_999 }), (minute, hour, jitter) => {
        const expression = `cron(${minute} ${hour} * * ? *)`;
        const start = Date.parse('2026-12-04T00:00:00Z');
        let fired = 0;
        for (let m = 1; m <= 24 * 60; m++) {
          const { from, to } = dispatchWindow(new Date(start + m * 60_000 + jitter));
          fired += firesIn(expression, from, to).length;
        }
        return fired === 1;
      }),
      { numRuns: 5 },
    );
  });
});

describe('dueJobs', () => {
  it('starts each database\'s own logical schedule, and the stack\'s base backup, checkpoint and drill', () => {
    const stack = config([db('app'), db('billing', 'cron(30 2 * * ? *)')]);
    expect(kinds(dueJobs(stack, at('2026-12-04T02:29:00Z'), at('2026-12-04T02:30:00Z')))).toEqual(['base:app@02:30', 'wal-checkpoint:app@02:30', 'logical:billing@02:30', 'base:billing@02:30', 'wal-checkpoint:billing@02:30']);
    expect(kinds(dueJobs(stack, at('2026-12-04T02:59:00Z'), at('2026-12-04T03:00:00Z')))).toEqual(['logical:app@03:00', 'wal-checkpoint:app@03:00', 'wal-checkpoint:billing@03:00']);
    expect(kinds(dueJobs(stack, at('2026-12-04T03:00:00Z'), at('2026-12-04T03:01:00Z')))).toEqual([]);
    expect(kinds(dueJobs(stack, at('2027-01-01T03:59:00Z'), at('2027-01-01T04:00:00Z')))).toEqual(['wal-checkpoint:app@04:00', 'validation:app@04:00', 'pitr-drill:app@04:00', 'wal-checkpoint:billing@04:00', 'validation:billing@04:00', 'pitr-drill:billing@04:00']);
  });

  it('gives 200 databases at 03:00 their 200 dumps and 200 checkpoints, and nothing the minute after', () => {
    const stack = config(Array.from({ length: 200 }, (_, i) => db(`db${i}`)));
    const jobs = dueJobs(stack, at('2026-12-04T02:59:00Z'), at('2026-12-04T03:00:00Z'));
    expect(jobs.filter((job) => job.kind === 'logical')).toHaveLength(200);
    expect(jobs.filter((job) => job.kind === 'wal-checkpoint')).toHaveLength(200);
    expect(jobs.every((job) => job.at.getTime() === Date.parse('2026-12-04T03:00:00Z'))).toBe(true);
    expect(dueJobs(stack, at('2026-12-04T03:00:00Z'), at('2026-12-04T03:01:00Z'))).toEqual([]);
  });
});

describe('parseDeployConfig', () => {
  it('reads the packaged config and refuses what deploy/schedules.cjs would not write', () => {
    const text = JSON.stringify(config([{ ...db('app'), compression: 'zstd' }]));
    expect(parseDeployConfig(text).databases).toEqual([{ ...db('app'), compression: 'zstd' }]);
    expect(() => parseDeployConfig('{')).toThrow(/not JSON/);
    expect(() => parseDeployConfig(JSON.stringify({ ...config([db('app')]), walCheckpoint: 'every 15 min' }))).toThrow(/walCheckpoint: an EventBridge expression/);
    expect(() => parseDeployConfig(JSON.stringify(config([db('../etc')])))).toThrow(expect.objectContaining({ code: expect.any(String) }));
  });
});
