import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { taskStoppedHandler, type TaskStoppedDeps } from '../../functions/task-stopped';
import { makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog/client';
import { LOCAL_TABLE } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { awsAlerts } from '../../shared/runtime/aws';
import { captureLog, type CapturedLog } from '../support/stack';

const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-prod-alerts';
const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/strongbox-prod';
const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox-prod/7d2c9a4e51b04f7e9d0e6c1a2b3c4d5e';
const NOW = new Date('2026-11-24T03:09:59Z');

let server: DynaliteServer;
let log: CapturedLog;

beforeAll(async () => {
  server = await startDynalite({});
  await ensureCatalogTable(makeDynamoClient({ endpoint: server.endpoint }), LOCAL_TABLE);
});
afterAll(async () => server?.stop());
beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  log = captureLog();
});

/** The function's AWS wiring: SNS (mocked) behind the dedupe on the catalog table (dynalite). */
function handler(): (event: unknown) => ReturnType<ReturnType<typeof taskStoppedHandler>> {
  const env = { STRONGBOX_ALERT_TOPIC_ARN: TOPIC, STRONGBOX_TABLE: LOCAL_TABLE };
  const documents = toDocumentClient(makeDynamoClient({ endpoint: server.endpoint }));
  const deps: TaskStoppedDeps = { alerts: awsAlerts(env, log, { documents, clock: () => NOW }), log, clock: () => NOW, clusterArn: CLUSTER };
  return taskStoppedHandler(deps);
}

/** An "ECS Task State Change" event as EventBridge delivers it for a stopped Fargate dump task. */
function ecsEvent(backupId: string, containers: Array<Record<string, unknown>>, detail: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: '3317b2af-7005-947d-b652-f55e762e571a',
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: '123456789012',
    time: '2026-11-24T03:09:58Z',
    region: 'eu-west-1',
    resources: [TASK],
    detail: {
      attachments: [{ id: '1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8', type: 'eni', status: 'DELETED', details: [{ name: 'subnetId', value: 'subnet-1' }] }],
      availabilityZone: 'eu-west-1a',
      clusterArn: CLUSTER,
      containers: containers.map((container) => ({
        containerArn: 'arn:aws:ecs:eu-west-1:123456789012:container/strongbox-prod/7d2c9a4e51b04f7e9d0e6c1a2b3c4d5e/0c1d2e3f',
        lastStatus: 'STOPPED',
        name: 'dump',
        image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/strongbox-dump:latest',
        taskArn: TASK,
        networkInterfaces: [{ attachmentId: '1789bcae', privateIpv4Address: '10.0.1.17' }],
        cpu: '0',
        ...container,
      })),
      createdAt: '2026-11-24T03:00:08.101Z',
      launchType: 'FARGATE',
      cpu: '1024',
      memory: '2048',
      desiredStatus: 'STOPPED',
      group: 'family:strongbox-prod-dump',
      lastStatus: 'STOPPED',
      overrides: {
        containerOverrides: [
          {
            name: 'dump',
            environment: [
              { name: 'STRONGBOX_DATABASE', value: 'app' },
              { name: 'STRONGBOX_TIER', value: 'daily' },
              { name: 'STRONGBOX_BACKUP_ID', value: backupId },
              { name: 'STRONGBOX_SECRET_ARN', value: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf' },
            ],
          },
        ],
      },
      platformVersion: '1.4.0',
      startedAt: '2026-11-24T03:00:31.412Z',
      startedBy: 'strongbox-schedule',
      stopCode: 'EssentialContainerExited',
      stoppedAt: '2026-11-24T03:09:58.207Z',
      stoppedReason: 'Essential container in task exited',
      stoppingAt: '2026-11-24T03:09:47.860Z',
      taskArn: TASK,
      taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/strongbox-prod-dump:7',
      updatedAt: '2026-11-24T03:09:58.207Z',
      version: 5,
      ...detail,
    },
  };
}

describe('taskStopped function', () => {
  it('publishes TASK_FAILED for a non-zero exit: exactly this PublishCommand', async () => {
    const result = await handler()(ecsEvent('20261124T030000Z-l-aaaaaa', [{ exitCode: 1 }]));

    expect(result).toEqual({ alerted: true, type: 'TASK_FAILED', backupId: '20261124T030000Z-l-aaaaaa' });
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const message = {
      type: 'TASK_FAILED',
      severity: 'SEV2',
      message:
        'ECS task 7d2c9a4e51b04f7e9d0e6c1a2b3c4d5e of database app (backup 20261124T030000Z-l-aaaaaa) stopped [EssentialContainerExited]: container dump exited with 1; ECS: Essential container in task exited',
      hint: "read the task's log (log group /strongbox/<stage>/dump); the backup is marked FAILED by the task or by the watchdog, and the next schedule tries again",
      database: 'app',
      backupId: '20261124T030000Z-l-aaaaaa',
      code: 'TASK_FAILED',
      at: '2026-11-24T03:09:58.207Z',
      dedupeKey: 'backup#20261124T030000Z-l-aaaaaa',
    };
    expect(calls[0]!.args[0].input).toEqual({
      TopicArn: TOPIC,
      Subject: '[SEV2] Strongbox TASK_FAILED (app)',
      Message: JSON.stringify(message),
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'TASK_FAILED' },
        severity: { DataType: 'String', StringValue: 'SEV2' },
        database: { DataType: 'String', StringValue: 'app' },
      },
    });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'ECS task failed' }));
  });

  it('publishes nothing when the task exited 0', async () => {
    expect(await handler()(ecsEvent('20261124T030000Z-l-bbbbbb', [{ exitCode: 0 }]))).toEqual({ alerted: false, reason: 'succeeded' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
    expect(log.lines).toContainEqual({ level: 'INFO', message: 'ECS task stopped after success', attributes: { taskArn: TASK, stopCode: 'EssentialContainerExited' } });
  });

  it('publishes TASK_FAILED when the container never ran (no exit code, a stop reason)', async () => {
    const event = ecsEvent('20261124T030000Z-l-cccccc', [{ reason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)' }], {
      stopCode: 'TaskFailedToStart',
      stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)',
    });
    expect(await handler()(event)).toMatchObject({ alerted: true });
    const sent = JSON.parse(snsMock.commandCalls(PublishCommand)[0]!.args[0].input.Message!);
    expect(sent).toMatchObject({ type: 'TASK_FAILED', backupId: '20261124T030000Z-l-cccccc', hint: expect.stringContaining('imageUri') });
  });

  it('sends one message per backup however often EventBridge delivers the event', async () => {
    const event = ecsEvent('20261124T030000Z-l-dddddd', [{ exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }]);
    const handle = handler();
    for (let i = 0; i < 5; i++) await handle(event);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('ignores a task of another cluster and a task not yet stopped', async () => {
    expect(await handler()(ecsEvent('b-1', [{ exitCode: 1 }], { clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/other' }))).toEqual({ alerted: false, reason: 'other cluster' });
    expect(await handler()(ecsEvent('b-2', [{ exitCode: 1 }], { lastStatus: 'DEPROVISIONING' }))).toEqual({ alerted: false, reason: 'not stopped' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('refuses an event that is not an ECS task state change with INPUT_INVALID', async () => {
    await expect(handler()({ 'detail-type': 'Scheduled Event', detail: {} })).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });

  it('never crashes on an SNS failure: logged, and the dedupe claim given back so a redelivery goes out', async () => {
    snsMock.on(PublishCommand).rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })).resolves({ MessageId: 'm-2' });
    const handle = handler();
    const event = ecsEvent('20261124T030000Z-l-eeeeee', [{ exitCode: 2 }]);

    expect(await handle(event)).toMatchObject({ alerted: true });
    expect(log.lines).toContainEqual({
      level: 'ERROR',
      message: 'alert could not be sent',
      attributes: {
        type: 'TASK_FAILED',
        database: 'app',
        backupId: '20261124T030000Z-l-eeeeee',
        dedupeKey: 'backup#20261124T030000Z-l-eeeeee',
        reason: 'alert TASK_FAILED could not be published to SNS: ThrottlingException',
        claimReleased: true,
      },
    });
    await handle(event);
    await handle(event);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(2);
  });
});
