import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deadmanHandler, deadmanSettings } from '../../functions/deadman';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { EmfMetrics } from '../../shared/adapters/metrics/emf';
import { SnsAlertPublisher } from '../../shared/adapters/sns/alerts';
import { DEFAULT_DEADMAN_POLICY } from '../../shared/domain/deadman';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { captureEmfAsync } from '../adapters/metrics/capture';
import fixture from '../fixtures/strongbox.config.json';
import { captureLog } from '../support/stack';

const require = createRequire(import.meta.url);
const resolver = require('../../deploy/schedules.cjs') as { packagedConfig(input: { resolveVariable(name: string): Promise<string> }): Promise<string> };
const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-test-alerts';
const NOW = new Date('2026-11-24T12:00:00Z');

let catalog: Catalog;
let walCatalog: WalCatalog;
let stop: () => Promise<void>;

beforeAll(async () => {
  const dynalite = await startDynalite({});
  stop = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  walCatalog = localWalCatalog(dynalite.endpoint);
});
afterAll(async () => stop?.());
beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('deadmanSettings', () => {
  it('reads what each database expects from the config deploy/schedules.cjs packages', async () => {
    // Prepare
    const literal = await resolver.packagedConfig({ resolveVariable: async (name) => (name === 'param:configFile' ? 'test/fixtures/strongbox.config.json' : '') });
    // Act
    const settings = deadmanSettings({ STRONGBOX_DEPLOY_CONFIG: JSON.parse(literal) as string, STRONGBOX_ARCHIVE_TIMEOUT_SECONDS: '120' });
    // Assess
    expect(settings.schedules).toEqual(
      fixture.databases.map((db) => ({ database: db.name, logical: 'schedule' in db ? db.schedule : 'cron(0 3 * * ? *)', base: 'cron(30 2 * * ? *)', walArchiving: true, validation: true })),
    );
    expect(settings.policy).toEqual({ ...DEFAULT_DEADMAN_POLICY, archiveTimeoutSeconds: 120 });
  });

  const config = (databases: unknown[]) => JSON.stringify({ databases, baseBackup: 'cron(30 2 * * ? *)', walCheckpoint: 'rate(15 minutes)', validation: 'cron(0 4 1 * ? *)' });
  it.each([
    [{}, /this function has no packaged Strongbox config/],
    [{ STRONGBOX_DEPLOY_CONFIG: '[{' }, /the packaged Strongbox config is not JSON/],
    [{ STRONGBOX_DEPLOY_CONFIG: config([{ name: 'app' }]) }, /the packaged Strongbox config is invalid: databases.0.secretArn/],
    [{ STRONGBOX_DEPLOY_CONFIG: config([{ name: '../x', secretArn: 'arn:x', schedule: 'rate(1 day)' }]) }, /database/],
    [{ STRONGBOX_DEPLOY_CONFIG: config([]), STRONGBOX_ARCHIVE_TIMEOUT_SECONDS: '0' }, /STRONGBOX_ARCHIVE_TIMEOUT_SECONDS must be a whole number from 1 to 3600/],
    [{ STRONGBOX_DEPLOY_CONFIG: config([]), STRONGBOX_BACKUP_GRACE_MINUTES: 'soon' }, /STRONGBOX_BACKUP_GRACE_MINUTES/],
  ])('refuses %j', (env, message) => {
    expect(() => deadmanSettings(env)).toThrow(message);
  });
});

describe('deadman handler', () => {
  it('publishes each silence to SNS as DEADMAN_SILENCE and emits DeadmanFindings as EMF', async () => {
    // Prepare: a database nobody ever backed up, checked for its logical backups only.
    const log = captureLog();
    const alerts = new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log);
    const handle = deadmanHandler(
      { catalog, walCatalog, alerts, log, clock: () => NOW, metrics: new EmfMetrics(log, { serviceName: 'strongbox' }) },
      { schedules: [{ database: 'ghost', logical: 'cron(0 3 * * ? *)', walArchiving: true, validation: false }], policy: DEFAULT_DEADMAN_POLICY },
    );
    // Act
    let result: Awaited<ReturnType<typeof handle>> | undefined;
    const emf = await captureEmfAsync(async () => (result = await handle()));
    // Assess
    expect(result).toEqual({
      checkedAt: NOW.toISOString(),
      findings: [
        { database: 'ghost', code: 'DEADMAN_BACKUP', tier: 'daily', dueAt: '2026-11-24T03:00:00.000Z' },
        { database: 'ghost', code: 'DEADMAN_WAL_CHECKPOINT', tier: null, dueAt: '2026-11-24T12:00:00.000Z' },
      ],
    });
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(2);
    const first = calls[0]!.args[0].input;
    expect(first).toMatchObject({
      TopicArn: TOPIC,
      Subject: '[SEV2] Strongbox DEADMAN_SILENCE (ghost)',
      MessageAttributes: { type: { DataType: 'String', StringValue: 'DEADMAN_SILENCE' }, severity: { DataType: 'String', StringValue: 'SEV2' }, database: { DataType: 'String', StringValue: 'ghost' } },
    });
    expect(JSON.parse(first.Message!)).toMatchObject({ type: 'DEADMAN_SILENCE', severity: 'SEV2', code: 'DEADMAN_BACKUP', database: 'ghost', at: NOW.toISOString() });
    expect(calls.map((c) => JSON.parse(c.args[0].input.Message!).code)).toEqual(['DEADMAN_BACKUP', 'DEADMAN_WAL_CHECKPOINT']);
    expect(emf.map((line) => [line.DeadmanFindings, line._aws.CloudWatchMetrics[0].Namespace])).toEqual([[2, 'Strongbox']]);
  });

  it('still answers when SNS refuses the alert (the failure is logged, never thrown)', async () => {
    snsMock.on(PublishCommand).rejects(Object.assign(new Error('denied'), { name: 'AuthorizationErrorException' }));
    const log = captureLog();
    const handle = deadmanHandler(
      { catalog, walCatalog, alerts: new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log), log, clock: () => NOW },
      { schedules: [{ database: 'ghost', walArchiving: true, validation: false }], policy: DEFAULT_DEADMAN_POLICY },
    );
    await expect(handle()).resolves.toMatchObject({ findings: [{ code: 'DEADMAN_WAL_CHECKPOINT' }] });
    expect(log.lines.filter((l) => l.level === 'ERROR').map((l) => [l.message, l.attributes?.type, l.attributes?.error])).toEqual([['alert could not be published', 'DEADMAN_SILENCE', 'AuthorizationErrorException']]);
  });
});
