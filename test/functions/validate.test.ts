/**
 * `sls invoke -f validate`: payload validation, the backup resolved from a real catalog
 * (dynalite), and the exact StartExecution sent to Step Functions (mocked).
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { SfnExecutionStarter } from '../../shared/adapters/sfn/executions';
import type { BackupEntry } from '../../shared/domain/backup';
import type { StrongboxError } from '../../shared/errors';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { makeValidateHandler } from '../../functions/validate';
import { captureLog } from '../support/stack';

const sfn = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:strongbox-test-validate';
const NOW = new Date('2026-12-01T04:00:00.000Z');
let stopDynalite: () => Promise<void>;
let handler: ReturnType<typeof makeValidateHandler>;

function entry(id: string, database: string, startedAt: string, extra: Partial<BackupEntry> = {}): BackupEntry {
  return {
    id,
    database,
    kind: 'logical',
    tier: 'monthly',
    scope: 'full',
    state: 'VERIFIED',
    key: `logical/monthly/${database}/${id}/dump`,
    manifestKey: `logical/monthly/${database}/${id}/manifest.json`,
    compression: 'zstd',
    startedAt,
    heartbeatAt: startedAt,
    ...extra,
  };
}
const APP = entry('20261130T030000Z-l-aaaaaa', 'app', '2026-11-30T03:00:00.000Z');
const BILLING = entry('20261130T040000Z-l-bbbbbb', 'billing', '2026-11-30T04:00:00.000Z');
const RUNNING = entry('20261201T030000Z-l-cccccc', 'app', '2026-12-01T03:00:00.000Z', { state: 'RUNNING' });
const BASE = entry('20261129T030000Z-b-dddddd', 'app', '2026-11-29T03:00:00.000Z', { kind: 'base', finishedAt: '2026-11-29T03:10:00.000Z' });

beforeAll(async () => {
  const dynalite = await startDynalite();
  stopDynalite = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  const catalog = localCatalog(dynalite.endpoint);
  for (const e of [APP, BILLING, RUNNING, BASE]) await catalog.create(e);
  handler = makeValidateHandler({ catalog, clock: () => NOW, log: captureLog(), starter: new SfnExecutionStarter(new SFNClient({ region: 'eu-west-1' }), MACHINE) });
});
afterAll(async () => {
  await stopDynalite?.();
});
beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:strongbox-test-validate:v', startDate: NOW });
});

async function refusal(event: unknown): Promise<StrongboxError> {
  try {
    await handler(event);
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a refusal');
}

describe('validate function', () => {
  it('resolves latest of the database (skipping a RUNNING one) and starts the drill with the exact input', async () => {
    const result = await handler({ backupId: 'latest', database: 'app' });
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]!.args[0].input;
    expect({ ...sent, input: JSON.parse(sent.input!) }).toEqual({
      stateMachineArn: MACHINE,
      name: `validate-${APP.id}-20261201040000`,
      input: { job: { backupId: APP.id, database: 'app' }, plan: result.plan, resources: result.resources },
    });
    // The drill keeps the dump and the restored database on the task's disk: sized from the backup.
    expect(result.resources).toEqual({ cpu: '1024', memory: '2048', containerMemory: 2048, ephemeralStorageGiB: 21 });
    expect(result).toMatchObject({ executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:strongbox-test-validate:v', plan: { backupId: APP.id, database: 'app' } });
  });

  it('an empty payload drills the newest VERIFIED backup of any database; dryRun starts nothing', async () => {
    const result = await handler({ dryRun: true });
    expect(result).toMatchObject({ dryRun: true, plan: { backupId: BILLING.id, database: 'billing' } });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a bad payload listing every problem, an unverified backup, and a database without backups', async () => {
    const bad = await refusal({ backupId: 'yesterday', database: '../x', target: { url: 'postgresql://a:b@h/db' } });
    expect(bad.code).toBe('INPUT_INVALID');
    expect(bad.message).toContain('backupId: must be "latest" or a backup id');
    expect(bad.message).toContain('database: must be 1-63 letters');
    expect(bad.message).toContain('target.url: a connection string with a password');
    expect(bad.message).toContain('Unrecognized key: "target"');
    expect((await refusal({ backupId: RUNNING.id })).message).toContain('is RUNNING, not VERIFIED');
    expect((await refusal({ database: 'nothing' })).code).toBe('BACKUP_NOT_FOUND');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('the physical drill ({"pitr": true}): the logical backup inside the PITR window chosen here, pitr in the job; dryRun starts nothing; billing has no base backup', async () => {
    const planned = (await handler({ pitr: true, to: 'random', database: 'app', dryRun: true })) as { dryRun: boolean; pitr: boolean; plan: { backupId: string } };
    expect(planned).toMatchObject({ dryRun: true, pitr: true, plan: { backupId: APP.id } });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    await handler({ pitr: true, database: 'app' });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(JSON.parse(sent.input!)).toMatchObject({ job: { backupId: APP.id, database: 'app', pitr: true } });
    expect(await refusal({ pitr: true, database: 'billing' })).toMatchObject({ code: 'BACKUP_NOT_FOUND', message: expect.stringContaining('no VERIFIED base backup') });
  });
});
