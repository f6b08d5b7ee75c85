import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scheduleBackupHandler } from '../../functions/schedule-backup';
import { EcsTaskLauncher } from '../../shared/adapters/ecs/ecs-launcher';
import { SnsAlertPublisher } from '../../shared/adapters/sns/alerts';
import { backupId } from '../../shared/domain/keys';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { captureLog } from '../support/stack';

const ecsMock = mockClient(ECSClient);
const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-alerts';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf';

let stopCatalog: () => Promise<void>;
let catalog: Catalog;

beforeAll(async () => {
  const server = await startDynalite({});
  stopCatalog = server.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: server.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(server.endpoint);
});
afterAll(async () => stopCatalog?.());
beforeEach(() => {
  ecsMock.reset();
  snsMock.reset();
});

function handler(now = new Date('2026-11-24T03:00:07Z')) {
  const log = captureLog();
  const launcher = new EcsTaskLauncher(new ECSClient({ region: 'eu-west-1' }), {
    cluster: 'arn:aws:ecs:eu-west-1:123456789012:cluster/strongbox',
    taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/strongbox-dump:3',
    containerName: 'dump',
    subnets: ['subnet-1', 'subnet-2'],
    securityGroups: ['sg-1'],
    assignPublicIp: 'DISABLED',
  });
  const alerts = new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log);
  return { handle: scheduleBackupHandler({ catalog, launcher, alerts, log, clock: () => now }), log };
}

describe('scheduleBackup function', () => {
  it('records the backup RUNNING and sends exactly this RunTask (tier from the date, secret ARN, no password)', async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox/abc' }], failures: [] });
    const { handle } = handler();

    const result = await handle({ database: 'app', secretArn: SECRET, time: '2026-11-29T03:00:00Z' });

    expect(result).toMatchObject({ tier: 'weekly', state: 'RUNNING', launched: true, runner: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox/abc' });
    const calls = ecsMock.commandCalls(RunTaskCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      cluster: 'arn:aws:ecs:eu-west-1:123456789012:cluster/strongbox',
      taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/strongbox-dump:3',
      launchType: 'FARGATE',
      count: 1,
      clientToken: result.backupId,
      startedBy: 'strongbox-schedule',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' } },
      overrides: {
        containerOverrides: [
          {
            name: 'dump',
            environment: [
              { name: 'STRONGBOX_DATABASE', value: 'app' },
              { name: 'STRONGBOX_TIER', value: 'weekly' },
              { name: 'STRONGBOX_BACKUP_ID', value: result.backupId },
              { name: 'STRONGBOX_SECRET_ARN', value: SECRET },
            ],
          },
        ],
      },
      tags: [
        { key: 'strongbox:backup-id', value: result.backupId },
        { key: 'strongbox:database', value: 'app' },
      ],
    });
    expect(await catalog.get(result.backupId)).toMatchObject({ state: 'RUNNING', tier: 'weekly', database: 'app', key: `logical/weekly/app/${result.backupId}/dump` });
  });

  it('passes a configured compression on to the task', async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox/zst' }] });
    const { handle } = handler();
    await handle({ database: 'app', secretArn: SECRET, time: '2026-11-26T03:00:00Z', compression: 'zstd' });
    const environment = ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides?.containerOverrides?.[0]?.environment;
    expect(environment).toContainEqual({ name: 'STRONGBOX_COMPRESSION', value: 'zstd' });
  });

  it('passes a configured dumpJobs on to the task as STRONGBOX_DUMP_JOBS (a parallel backup, docs/backups.md)', async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox/par' }] });
    const { handle } = handler();
    await handle({ database: 'app', secretArn: SECRET, time: '2026-11-27T03:00:00Z', dumpJobs: 4 });
    const environment = ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides?.containerOverrides?.[0]?.environment;
    expect(environment).toContainEqual({ name: 'STRONGBOX_DUMP_JOBS', value: '4' });
  });

  it('the launcher passes a base backup\'s type to the task as STRONGBOX_BACKUP_TYPE', async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox/base' }] });
    const launcher = new EcsTaskLauncher(new ECSClient({ region: 'eu-west-1' }), { cluster: 'c', taskDefinition: 'td', containerName: 'dump', subnets: ['s'], securityGroups: ['g'], assignPublicIp: 'DISABLED' });
    const id = backupId('base', new Date('2026-11-26T03:00:00Z'), 'app');

    await launcher.launch({ database: 'app', tier: 'daily', backupId: id, type: 'base' });

    expect(ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides?.containerOverrides?.[0]?.environment).toEqual([
      { name: 'STRONGBOX_DATABASE', value: 'app' },
      { name: 'STRONGBOX_TIER', value: 'daily' },
      { name: 'STRONGBOX_BACKUP_ID', value: id },
      { name: 'STRONGBOX_BACKUP_TYPE', value: 'base' },
    ]);
  });

  it('a big database (its last verified dump: 50 GiB) gets 4 vCPU / 8 GiB in the exact RunTask overrides', async () => {
    // Prepare: a verified 50 GiB dump of "big" (a ~200 GiB database by task-sizing's estimate).
    const at = '2026-11-20T03:00:00.000Z';
    const previous = backupId('logical', new Date(at), 'big@previous');
    await catalog.create({ id: previous, database: 'big', kind: 'logical', tier: 'daily', scope: 'full', state: 'VERIFIED', key: `logical/daily/big/${previous}/dump`, manifestKey: `logical/daily/big/${previous}/manifest.json`, compression: 'gzip', bytes: 50 * 1024 ** 3, startedAt: at, finishedAt: at, heartbeatAt: at });
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox/big' }] });
    const { handle, log } = handler();

    // Act
    const result = await handle({ database: 'big', secretArn: SECRET, time: '2026-11-24T03:00:00Z' });

    // Assess
    expect(ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides).toEqual({
      cpu: '4096',
      memory: '8192',
      containerOverrides: [
        {
          name: 'dump',
          memory: 8192,
          environment: [
            { name: 'STRONGBOX_DATABASE', value: 'big' },
            { name: 'STRONGBOX_TIER', value: 'daily' },
            { name: 'STRONGBOX_BACKUP_ID', value: result.backupId },
            { name: 'STRONGBOX_SECRET_ARN', value: SECRET },
          ],
        },
      ],
    });
    expect(log.lines.find((line) => line.message === 'backup task launched')?.attributes).toMatchObject({ database: 'big', cpu: 4096, memory: 8192 });
  });

  it('a repeated delivery of the same schedule event launches nothing', async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox/def' }] });
    const { handle, log } = handler();
    const first = await handle({ database: 'app', secretArn: SECRET, time: '2026-12-01T03:00:00Z' });
    const second = await handle({ database: 'app', secretArn: SECRET, time: '2026-12-01T03:00:00Z' });
    expect(first).toMatchObject({ tier: 'monthly', launched: true });
    expect(second).toMatchObject({ backupId: first.backupId, launched: false });
    expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(log.lines.some((line) => line.message.startsWith('schedule event repeated'))).toBe(true);
  });

  it('a launch ECS refuses → FAILED with the reason and exactly one SNS alert', async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'no ENI left in subnet-1' }] });
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const { handle } = handler();

    await expect(handle({ database: 'app', secretArn: SECRET, time: '2026-11-24T03:00:00Z' })).rejects.toMatchObject({ code: 'TASK_LAUNCH_FAILED' });

    const entry = await catalog.get(backupId('logical', new Date('2026-11-24T03:00:00Z'), 'app@2026-11-24T03:00:00.000Z'));
    expect(entry).toMatchObject({ state: 'FAILED', errorCode: 'TASK_LAUNCH_FAILED', tier: 'daily' });
    expect(entry!.reason).toContain('RESOURCE:ENI');
    const published = snsMock.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    const input = published[0]!.args[0].input;
    expect(input).toMatchObject({
      TopicArn: TOPIC,
      Subject: '[SEV2] Strongbox BACKUP_LAUNCH_FAILED (app)',
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'BACKUP_LAUNCH_FAILED' },
        severity: { DataType: 'String', StringValue: 'SEV2' },
        database: { DataType: 'String', StringValue: 'app' },
      },
    });
    expect(JSON.parse(input.Message!)).toMatchObject({ type: 'BACKUP_LAUNCH_FAILED', backupId: entry!.id, code: 'TASK_LAUNCH_FAILED' });
  });

  it('an SNS outage does not crash the function that raised the alert', async () => {
    ecsMock.on(RunTaskCommand).rejects(new Error('throttled'));
    snsMock.on(PublishCommand).rejects(new Error('SNS down'));
    const { handle, log } = handler();
    await expect(handle({ database: 'app', time: '2026-11-25T03:00:00Z' })).rejects.toMatchObject({ code: 'TASK_LAUNCH_FAILED' });
    expect(log.lines.some((line) => line.level === 'ERROR' && line.message === 'alert could not be published')).toBe(true);
  });

  it.each([[{}], [{ database: '../etc' }], [{ database: 'app', secretArn: 'not-an-arn' }], [{ database: 'app', time: 'yesterday' }], ['garbage']])(
    'refuses the input %j with one clear INPUT_INVALID error and launches nothing',
    async (event) => {
      const { handle } = handler();
      await expect(handle(event)).rejects.toMatchObject({ code: 'INPUT_INVALID' });
      expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(0);
    },
  );
});
