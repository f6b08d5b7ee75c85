/**
 * The dispatcher (issue 16 point 4): the exact Lambda Invoke and Step Functions
 * StartExecution commands it sends for what is due (mocked clients), read back by the
 * target functions' own input parsers; 200 databases at 03:00 started 10 at a time; a job
 * that cannot be started leaves the others started and raises one DISPATCH_FAILED.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { dispatchHandler, firedAtOf } from '../../functions/dispatch';
import { parseScheduleInput } from '../../functions/schedule-backup';
import { parseCheckpointInput } from '../../functions/wal-checkpoint';
import { AwsJobStarter, drillExecutionName, jobPayload } from '../../shared/adapters/lambda/job-starter';
import { SnsAlertPublisher } from '../../shared/adapters/sns/alerts';
import type { DeployConfig } from '../../shared/domain/deploy-config';
import { StrongboxError } from '../../shared/errors';
import type { Alert } from '../../shared/ports';
import { captureLog } from '../support/stack';

const lambdaMock = mockClient(LambdaClient);
const sfnMock = mockClient(SFNClient);
const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-test-alerts';
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:strongbox-test-validate';
const TARGETS = { scheduleBackupFunction: 'strongbox-test-scheduleBackup', walCheckpointFunction: 'strongbox-test-walCheckpoint', validateStateMachineArn: MACHINE };
const secret = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/test/${name}-AbCdEf`;

function stack(count: number): DeployConfig {
  return {
    databases: Array.from({ length: count }, (_, i) => ({ name: i === 0 ? 'app' : `db${i}`, secretArn: secret(`db${i}`), schedule: 'cron(0 3 * * ? *)', ...(i === 0 ? { compression: 'zstd' as const, dumpJobs: 4 } : {}) })),
    baseBackup: 'cron(30 2 * * ? *)',
    walCheckpoint: 'rate(15 minutes)',
    validation: 'cron(0 4 1 * ? *)',
  };
}

function handler(config: DeployConfig, now = new Date('2026-12-04T03:00:41Z')) {
  const log = captureLog();
  const starter = new AwsJobStarter(new LambdaClient({ region: 'eu-west-1' }), new SFNClient({ region: 'eu-west-1' }), TARGETS);
  const alerts = new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log);
  return { log, handle: dispatchHandler({ starter, alerts, log, clock: () => now }, config) };
}

const payloads = (functionName: string) =>
  lambdaMock.commandCalls(InvokeCommand).filter((call) => call.args[0].input.FunctionName === functionName).map((call) => {
    expect(call.args[0].input.InvocationType).toBe('Event');
    return JSON.parse(new TextDecoder().decode(call.args[0].input.Payload as Uint8Array)) as unknown;
  });
const published = () => snsMock.commandCalls(PublishCommand).map((call) => JSON.parse(call.args[0].input.Message!) as Alert);

beforeEach(() => {
  lambdaMock.reset();
  sfnMock.reset();
  snsMock.reset();
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
  sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE.replace(':stateMachine:', ':execution:')}:x`, startDate: new Date() });
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('dispatch', () => {
  it('at 03:00 invokes scheduleBackup for each dump and walCheckpoint for each database, with the inputs their rules used to send', async () => {
    // Prepare
    const { handle } = handler(stack(2));
    // Act
    const report = await handle({ 'detail-type': 'Scheduled Event', source: 'aws.events', time: '2026-12-04T03:00:41Z' });
    // Assess
    expect(report).toEqual({ from: '2026-12-04T02:59:00.000Z', to: '2026-12-04T03:00:00.000Z', started: 4, failed: [] });
    const dumps = payloads(TARGETS.scheduleBackupFunction);
    expect(dumps).toEqual([
      { database: 'app', secretArn: secret('db0'), compression: 'zstd', dumpJobs: 4, time: '2026-12-04T03:00:00.000Z' },
      { database: 'db1', secretArn: secret('db1'), time: '2026-12-04T03:00:00.000Z' },
    ]);
    expect(dumps.map((payload) => parseScheduleInput(payload))).toEqual(dumps);
    const checkpoints = payloads(TARGETS.walCheckpointFunction);
    expect(checkpoints).toEqual([{ database: 'app', secretArn: secret('db0') }, { database: 'db1', secretArn: secret('db1') }]);
    expect(checkpoints.map((payload) => parseCheckpointInput(payload))).toEqual(checkpoints);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toEqual([]);
  });

  it('starts the base backups at 02:30 and the monthly drills on the 1st at 04:00, one execution name per database and moment', async () => {
    // Act
    await handler(stack(2)).handle({ time: '2026-12-04T02:30:05Z' });
    await handler(stack(2)).handle({ time: '2027-01-01T04:00:02Z' });
    // Assess
    expect(payloads(TARGETS.scheduleBackupFunction)).toEqual([
      { database: 'app', secretArn: secret('db0'), type: 'base', time: '2026-12-04T02:30:00.000Z' },
      { database: 'db1', secretArn: secret('db1'), type: 'base', time: '2026-12-04T02:30:00.000Z' },
    ]);
    expect(sfnMock.commandCalls(StartExecutionCommand).map((call) => call.args[0].input)).toEqual([
      { stateMachineArn: MACHINE, name: drillExecutionName('app', new Date('2027-01-01T04:00:00Z')), input: JSON.stringify({ job: { backupId: 'latest', database: 'app' } }) },
      { stateMachineArn: MACHINE, name: drillExecutionName('app', new Date('2027-01-01T04:00:00Z'), 'pdrill'), input: JSON.stringify({ job: { pitr: true, to: 'random', database: 'app' } }) },
      { stateMachineArn: MACHINE, name: drillExecutionName('db1', new Date('2027-01-01T04:00:00Z')), input: JSON.stringify({ job: { backupId: 'latest', database: 'db1' } }) },
      { stateMachineArn: MACHINE, name: drillExecutionName('db1', new Date('2027-01-01T04:00:00Z'), 'pdrill'), input: JSON.stringify({ job: { pitr: true, to: 'random', database: 'db1' } }) },
    ]);
    expect(drillExecutionName('app', new Date('2027-01-01T04:00:00Z'), 'pdrill')).toMatch(/^pdrill-app-[0-9a-f]{8}-202701010400$/);
    expect(drillExecutionName('a.b'.repeat(21), new Date('2027-01-01T04:00:00Z'), 'pdrill')).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(drillExecutionName('app', new Date('2027-01-01T04:00:00Z'))).toMatch(/^drill-app-[0-9a-f]{8}-202701010400$/);
    expect(drillExecutionName('a.b'.repeat(21), new Date('2027-01-01T04:00:00Z'))).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it('the monthly physical drill: the backup drawn and the task sized by the dispatcher (drillInput), in the exact StartExecution', async () => {
    // Prepare: what physicalDrillInput returns for a drawn backup (the base backup's disk, not 200 GiB)
    const sized = { job: { backupId: '20261231T030000Z-l-abc123', database: 'app', pitr: true }, resources: { cpu: '1024', memory: '2048', containerMemory: 2048, ephemeralStorageGiB: 27 } };
    const asked: string[] = [];
    const starter = new AwsJobStarter(new LambdaClient({ region: 'eu-west-1' }), new SFNClient({ region: 'eu-west-1' }), TARGETS, async (job) => {
      asked.push(`${job.kind}:${job.database.name}`);
      return job.kind === 'pitr-drill' ? sized : jobPayload(job);
    });
    const log = captureLog();
    // Act
    await dispatchHandler({ starter, alerts: new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log), log, clock: () => new Date() }, stack(1))({ time: '2027-01-01T04:00:02Z' });
    // Assess
    expect(asked).toEqual(['validation:app', 'pitr-drill:app']);
    expect(sfnMock.commandCalls(StartExecutionCommand).map((call) => call.args[0].input)).toEqual([
      { stateMachineArn: MACHINE, name: drillExecutionName('app', new Date('2027-01-01T04:00:00Z')), input: JSON.stringify({ job: { backupId: 'latest', database: 'app' } }) },
      { stateMachineArn: MACHINE, name: drillExecutionName('app', new Date('2027-01-01T04:00:00Z'), 'pdrill'), input: JSON.stringify(sized) },
    ]);
  });

  it('a physical drill that cannot be sized (no base backup) fails with its own code, the others start', async () => {
    const starter = new AwsJobStarter(new LambdaClient({ region: 'eu-west-1' }), new SFNClient({ region: 'eu-west-1' }), TARGETS, async (job) => {
      if (job.kind === 'pitr-drill') throw new StrongboxError('BACKUP_NOT_FOUND', 'no VERIFIED base backup of app', 'take one');
      return jobPayload(job);
    });
    const log = captureLog();
    const handle = dispatchHandler({ starter, alerts: new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log), log, clock: () => new Date() }, stack(1));
    await expect(handle({ time: '2027-01-01T04:00:02Z' })).rejects.toMatchObject({ code: 'DISPATCH_FAILED' });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(published()).toEqual([expect.objectContaining({ type: 'DISPATCH_FAILED', code: 'BACKUP_NOT_FOUND', database: 'app' })]);
  });

  it('takes a drill already started (a retried dispatch) as started', async () => {
    // Prepare
    sfnMock.on(StartExecutionCommand).rejects(Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' }));
    // Act
    const report = await handler(stack(1)).handle({ time: '2027-01-01T04:00:02Z' });
    // Assess: the checkpoint, the restore drill and the physical drill
    expect(report).toMatchObject({ started: 3, failed: [] });
    expect(published()).toEqual([]);
  });

  it('starts 200 databases\' 03:00 dumps and checkpoints, at most 10 calls at once', async () => {
    // Prepare: each call takes a little while, as Lambda's API does.
    let inFlight = 0;
    let most = 0;
    lambdaMock.on(InvokeCommand).callsFake(async () => {
      most = Math.max(most, (inFlight += 1));
      await sleep(5);
      inFlight -= 1;
      return { StatusCode: 202 };
    });
    const { handle, log } = handler(stack(200));
    const started = process.hrtime.bigint();
    // Act
    const report = await handle({ time: '2026-12-04T03:00:41Z' });
    // Assess
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(report).toMatchObject({ started: 400, failed: [] });
    expect(most).toBe(10);
    expect(new Set(payloads(TARGETS.scheduleBackupFunction).map((payload) => (payload as { database: string }).database)).size).toBe(200);
    expect(log.lines.find((line) => line.message === 'dispatch: due jobs started')?.attributes).toMatchObject({ due: 400, started: 400, failed: 0 });
    console.log(`dispatch: 400 jobs of 200 databases started in ${ms.toFixed(0)} ms (5 ms per call, 10 at once)`);
  });

  it('starts the others when one cannot be started, then raises one DISPATCH_FAILED and throws for Lambda to retry', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand, { FunctionName: TARGETS.walCheckpointFunction }).rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    const { handle, log } = handler(stack(3));
    // Act
    const failure = await handle({ time: '2026-12-04T03:00:41Z' }).catch((error: unknown) => error);
    // Assess
    expect(failure).toMatchObject({ code: 'DISPATCH_FAILED', message: expect.stringMatching(/^3 of 6 scheduled job\(s\) due by 2026-12-04T03:00:00.000Z could not be started: wal-checkpoint of (app|db1|db2) at 2026-12-04T03:00:00.000Z \(JOB_NOT_STARTED: .*TooManyRequestsException/) });
    expect(payloads(TARGETS.scheduleBackupFunction)).toHaveLength(3);
    const [alert, ...others] = published();
    expect(others).toEqual([]);
    expect(alert).toMatchObject({ type: 'DISPATCH_FAILED', severity: 'SEV2', code: 'JOB_NOT_STARTED', hint: expect.stringContaining('lambda:InvokeFunction') });
    expect(alert!.database).toBeUndefined();
    expect(log.lines.filter((line) => line.message === 'dispatch: a due job could not be started')).toHaveLength(3);
  });

  it('takes the firing time from the event, or now when invoked by hand', () => {
    const now = new Date('2026-12-04T03:07:00Z');
    expect(firedAtOf({ time: '2026-12-04T03:00:41Z' }, now)).toEqual(new Date('2026-12-04T03:00:41Z'));
    expect(firedAtOf({}, now)).toBe(now);
    expect(firedAtOf({ time: 'soon' }, now)).toBe(now);
    expect(firedAtOf(undefined, now)).toBe(now);
  });
});
