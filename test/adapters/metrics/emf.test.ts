import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureEmf } from './capture';
import { EmfMetrics } from '../../../shared/adapters/metrics/emf';
import { logMetrics } from '../../../shared/adapters/metrics/log-metrics';
import { METRIC_UNITS, type MetricName } from '../../../shared/metrics';
import { captureLog } from '../../support/stack';

afterEach(() => vi.unstubAllEnvs());

describe('EmfMetrics', () => {
  it.each(Object.entries(METRIC_UNITS) as Array<[MetricName, string]>)('writes %s as one EMF line in the Strongbox namespace (unit %s)', (name, unit) => {
    // Prepare
    vi.stubEnv('POWERTOOLS_DEV', '');
    const metrics = new EmfMetrics(captureLog(), { serviceName: 'strongbox' });
    // Act
    const [line, ...others] = captureEmf(() => metrics.record(name, 42, { database: 'app', tier: 'daily', skipped: undefined }));
    // Assess
    expect(others).toEqual([]);
    expect(line).toMatchObject({ service: 'strongbox', database: 'app', tier: 'daily', [name]: 42 });
    expect(line).not.toHaveProperty('skipped');
    expect(line!._aws.CloudWatchMetrics).toEqual([{ Namespace: 'Strongbox', Dimensions: [['service']], Metrics: [{ Name: name, Unit: unit }] }]);
    expect(typeof line!._aws.Timestamp).toBe('number');
  });

  it('keeps nothing from one record to the next (no stale database property)', () => {
    const metrics = new EmfMetrics(captureLog(), { serviceName: 'strongbox' });
    const lines = captureEmf(() => {
      metrics.record('WalSegmentsArchived', 1, { database: 'app' });
      metrics.record('DeadmanFindings', 0);
    });
    expect(lines.map((l) => [l.WalSegmentsArchived, l.DeadmanFindings, l.database])).toEqual([[1, undefined, 'app'], [undefined, 0, undefined]]);
  });

  it('drops a value that is not a finite number with a warning, and never throws', () => {
    const log = captureLog();
    const metrics = new EmfMetrics(log, { serviceName: 'strongbox' });
    expect(captureEmf(() => metrics.record('ArchiveLagSeconds', Number.NaN, { database: 'app' }))).toEqual([]);
    expect(log.lines).toEqual([{ level: 'WARN', message: 'metric value dropped: not a finite number', attributes: { metric: 'ArchiveLagSeconds', value: 'NaN' } }]);
  });
});

describe('logMetrics (local mode)', () => {
  it('logs each value as an INFO line with its unit and context', () => {
    const log = captureLog();
    logMetrics(log).record('BackupBytes', 1234, { database: 'app' });
    expect(log.lines).toEqual([{ level: 'INFO', message: 'metric', attributes: { metric: 'BackupBytes', value: 1234, unit: 'Bytes', database: 'app' } }]);
  });
});
