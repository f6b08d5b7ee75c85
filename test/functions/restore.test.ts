/**
 * `sls invoke -f restore`: payload validation, the plan from a real DynamoDB-compatible catalog
 * (dynalite), and the exact StartExecution sent to Step Functions (mocked).
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { SfnExecutionStarter } from '../../shared/adapters/sfn/executions';
import type { BackupEntry } from '../../shared/domain/backup';
import { InputError, type StrongboxError } from '../../shared/errors';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { makeRestoreHandler } from '../../functions/restore';
import { captureLog, type CapturedLog } from '../support/stack';

const sfn = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:strongbox-test-restore';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/app-AbCdEf';
const NOW = new Date('2026-11-24T09:30:00.000Z');
let stopDynalite: () => Promise<void>;
let handler: ReturnType<typeof makeRestoreHandler>;
let log: CapturedLog;

function entry(id: string, startedAt: string, extra: Partial<BackupEntry> = {}): BackupEntry {
  return {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: `logical/daily/app/${id}/dump`,
    manifestKey: `logical/daily/app/${id}/manifest.json`,
    compression: 'gzip',
    bytes: 1000,
    sha256: 'a'.repeat(64),
    startedAt,
    finishedAt: startedAt,
    heartbeatAt: startedAt,
    ...extra,
  };
}
const OLDER = entry('20261122T030000Z-l-aaaaaa', '2026-11-22T03:00:00.000Z');
const NEWEST = entry('20261123T030000Z-l-bbbbbb', '2026-11-23T03:00:00.000Z');
const FAILED = entry('20261124T030000Z-l-cccccc', '2026-11-24T03:00:00.000Z', { state: 'FAILED', reason: 'checksum mismatch' });
const GIB = 1024 ** 3;
/** A 250 GiB dump of database "big": no Fargate disk holds it, a streamed restore needs none. */
const BIG = entry('20261123T030000Z-l-dddddd', '2026-11-23T03:00:00.000Z', { database: 'big', key: 'logical/daily/big/x/dump', manifestKey: 'logical/daily/big/x/manifest.json', bytes: 250 * GIB });

beforeAll(async () => {
  const dynalite = await startDynalite();
  stopDynalite = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  const catalog = localCatalog(dynalite.endpoint);
  for (const e of [OLDER, NEWEST, FAILED, BIG]) await catalog.create(e);
  log = captureLog();
  handler = makeRestoreHandler({ catalog, clock: () => NOW, log, starter: new SfnExecutionStarter(new SFNClient({ region: 'eu-west-1' }), MACHINE) });
});
afterAll(async () => {
  await stopDynalite?.();
});
beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE.replace(':stateMachine:', ':execution:')}:x`, startDate: NOW });
  log.lines.length = 0;
});

async function refusal(event: unknown): Promise<StrongboxError> {
  try {
    await handler(event);
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a refusal');
}

const payload = { backupId: 'latest', database: 'app', target: { secretArn: SECRET }, confirm: 'app' };

describe('restore function', () => {
  it('plans latest (the newest VERIFIED) and starts the state machine with the job and the plan', async () => {
    // Act
    const result = await handler({ ...payload, jobs: 4 });
    // Assess
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]!.args[0].input;
    expect({ ...sent, input: JSON.parse(sent.input!) }).toEqual({
      stateMachineArn: MACHINE,
      name: `restore-${NEWEST.id}-20261124093000`,
      input: {
        job: { backupId: NEWEST.id, database: 'app', target: { secretArn: SECRET }, confirm: 'app', jobs: 4 },
        plan: result.plan,
        // The task's disk, vCPU and memory for this backup (a 1,000-byte dump: the smallest of each).
        resources: { cpu: '1024', memory: '2048', containerMemory: 2048, ephemeralStorageGiB: 21 },
      },
    });
    expect(result.executionArn).toBe('arn:aws:states:eu-west-1:123456789012:execution:strongbox-test-restore:x');
    expect(result.plan).toMatchObject({
      backupId: NEWEST.id,
      database: 'app',
      target: `database "app" on the server of secret ${SECRET}`,
      restoreInto: 'app_restoring_20261124093000',
      keptAs: 'app_before_restore_20261124093000',
      dropFirst: false,
      jobs: 4,
    });
    expect(log.lines.find((line) => line.message === 'restore started')?.attributes).toMatchObject({ backupId: NEWEST.id, executionArn: result.executionArn });
  });

  it('without jobs: 2 when the dump fits the task\'s disk, else 1 (streamed, no disk); the job names them', async () => {
    // Act
    await handler(payload);
    await handler({ ...payload, database: 'big', target: { secretArn: SECRET, database: 'big' }, confirm: 'big' });
    // Assess
    const inputs = sfn.commandCalls(StartExecutionCommand).map((call) => JSON.parse(call.args[0].input.input!) as { job: { jobs: number }; plan: { jobs: number; dumpPath: string }; resources: { ephemeralStorageGiB: number; cpu: string } });
    expect(inputs.map((i) => [i.job.jobs, i.plan.jobs, i.plan.dumpPath, i.resources.ephemeralStorageGiB, i.resources.cpu])).toEqual([
      [2, 2, 'download', 21, '1024'],
      [1, 1, 'stream', 21, '4096'],
    ]);
    expect(log.lines.find((line) => line.message === 'restore started' && line.attributes?.database === 'big')?.attributes).toMatchObject({ jobs: 1, dumpPath: 'stream', ephemeralStorageGiB: 21 });
    const steps = inputs.map((i) => (i as unknown as { plan: { steps: string[] } }).plan.steps.join('\n'));
    expect([/download/.test(steps[0]!), /stream .* no local file/.test(steps[1]!), /download/.test(steps[1]!)]).toEqual([true, true, false]);
  });

  it('refuses a parallel restore whose dump no task disk holds, before starting anything, pointing at jobs 1', async () => {
    const error = await refusal({ ...payload, database: 'big', target: { secretArn: SECRET, database: 'big' }, confirm: 'big', jobs: 4 });
    expect(error.code).toBe('BACKUP_TOO_LARGE_FOR_TASK');
    expect(error.message).toMatch(/restore of a 250\.0 GiB gzip dump needs 250\.0 GiB on the task's disk .* over Fargate's 200 GiB: nothing was started/);
    expect(error.hint).toMatch(/jobs 1: it streams the dump/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('dryRun: returns the plan and starts nothing (no confirm needed)', async () => {
    const { confirm: _confirm, ...unconfirmed } = payload;
    const result = await handler({ ...unconfirmed, backupId: OLDER.id, target: { secretArn: SECRET, database: 'app_copy' }, dropFirst: true, dryRun: true });
    expect(result).toMatchObject({ dryRun: true, plan: { backupId: OLDER.id, restoreInto: 'app_copy', keptAs: null, dropFirst: true } });
    expect((result.plan.steps as string[]).some((step) => step.startsWith('DROP the target database "app_copy"'))).toBe(true);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a bad payload with every problem in one error, before reading anything', async () => {
    const error = await refusal({ backupId: 7, database: 'app', target: { secretArn: 'postgres://u:pw@h/db', password: 'pw' }, confirm: 'prod', jobs: 0, extra: true });
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain('backupId: Invalid input: expected string');
    expect(error.message).toContain('target.password: passwords are refused');
    expect(error.message).toContain('target.secretArn: a connection string with a password');
    expect(error.message).toContain('confirm: "prod" is not the target database name "app"');
    expect(error.message).toContain('jobs: Too small');
    expect(error.message).toContain('Unrecognized key: "extra"');
    expect(error.message).not.toContain('pw@');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a missing confirmation, a FAILED backup and an unknown id, starting nothing', async () => {
    const { confirm: _confirm, ...unconfirmed } = payload;
    expect((await refusal(unconfirmed)).message).toContain('confirm: required: repeat the target database name ("app")');
    expect((await refusal({ ...payload, backupId: FAILED.id })).message).toContain('is FAILED, not VERIFIED');
    expect((await refusal({ ...payload, backupId: '20200101T000000Z-l-zzzzzz' })).code).toBe('BACKUP_NOT_FOUND');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('turns a name clash into ConflictError and other refusals into TASK_LAUNCH_FAILED', async () => {
    sfn.on(StartExecutionCommand).rejectsOnce(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' })).rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    expect((await refusal(payload)).code).toBe('CONFLICT');
    expect((await refusal(payload)).code).toBe('TASK_LAUNCH_FAILED');
  });
});
