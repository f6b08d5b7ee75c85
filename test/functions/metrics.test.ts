import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArchiveEndpointHandler } from '../../functions/archive-endpoint';
import { lagToPublish } from '../../functions/wal-checkpoint';
import { EmfMetrics } from '../../shared/adapters/metrics/emf';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { captureEmfAsync } from '../adapters/metrics/capture';
import { startS3Server, type S3TestServer } from '../support/s3-server';
import { captureLog } from '../support/stack';
import { declareSegment, fakeSegment } from '../support/wal-files';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';

// The metrics the functions emit at their call sites, as the EMF lines CloudWatch would read.

describe('walCheckpoint: ArchiveLagSeconds', () => {
  it.each([
    ['the measured lag when the switched segment was archived', { archived: true, lagSeconds: 1.5, status: { measuredAt: '2026-11-24T03:15:02Z', lastArchivedAt: '2026-11-24T03:15:01Z' } }, 1.5],
    ['the wait as a lower bound when nothing newer was archived', { archived: false, status: { measuredAt: '2026-11-24T03:16:00Z', lastArchivedAt: '2026-11-24T03:15:30Z' } }, 60],
    ['the time since the last archived WAL when longer than the wait', { archived: false, status: { measuredAt: '2026-11-24T03:16:00Z', lastArchivedAt: '2026-11-24T03:06:00Z' } }, 600],
    ['the wait when the server never archived anything', { archived: false, status: { measuredAt: '2026-11-24T03:16:00Z' } }, 60],
  ])('%s', (_, result, expected) => {
    expect(lagToPublish(result, 60_000)).toBe(expected);
  });
});

describe('archiveEndpoint: WalSegmentsArchived', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => s3?.stop());

  const event = (method: string, rawPath: string, json: unknown) => ({
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method }, authorizer: { iam: { accessKey: 'ASIAEXAMPLE', callerId: 'AROA:i-0abc', userArn: 'arn:aws:sts::123456789012:assumed-role/db/i-0abc' } } },
    body: JSON.stringify(json),
    isBase64Encoded: false,
  });

  it('counts a newly stored WAL file once, and not its repeated push', async () => {
    // Prepare
    const log = captureLog();
    const handle = makeArchiveEndpointHandler({
      storage: new S3Storage(s3.client, s3.bucket),
      presigner: new S3Presigner(s3.client, s3.bucket),
      codec: walCodec,
      alerts: new ConsoleAlertPublisher(() => undefined),
      log,
      clock: () => new Date(),
      metrics: new EmfMetrics(log, { serviceName: 'strongbox' }),
    });
    const file = declareSegment(fakeSegment({ segno: 9n }));
    const name = '000000010000000000000009';
    const plan = JSON.parse((await handle(event('POST', `/v1/wal/app/${name}`, file.declaration))).body);
    expect((await fetch(plan.url, { method: 'PUT', headers: plan.headers, body: file.stored })).status).toBe(200);
    // Act
    let statuses: number[] = [];
    const emf = await captureEmfAsync(async () => {
      const first = await handle(event('POST', `/v1/wal/app/${name}/complete`, file.declaration));
      const again = await handle(event('POST', `/v1/wal/app/${name}/complete`, file.declaration));
      const refused = await handle(event('POST', `/v1/wal/app/000000010000000000000010/complete`, file.declaration));
      statuses = [first.statusCode, again.statusCode, refused.statusCode];
    });
    // Assess
    expect(statuses).toEqual([201, 200, 422]);
    expect(emf.map((line) => [line.WalSegmentsArchived, line.database, line.wal, line.service])).toEqual([[1, 'app', name, 'strongbox']]);
    expect(emf[0]!._aws.CloudWatchMetrics[0]).toEqual({ Namespace: 'Strongbox', Dimensions: [['service']], Metrics: [{ Name: 'WalSegmentsArchived', Unit: 'Count' }] });
  });
});
