/**
 * The functions held to AWS's own rules: each runs with its own wiring (functionDeps /
 * awsDeps with the SDK clients) against stand-ins made as strict as AWS (a missing key
 * read without s3:ListBucket is 403, not 404), as the principal whose role the packaged
 * template gives it; then every call they made is evaluated against that role's policies
 * (tests/support/aws-rules). Each scenario is a row of issue 12 that failed in AWS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { deadmanHandler, deadmanSettings } from '../../functions/deadman';
import { dispatchDeps, dispatchHandler } from '../../functions/dispatch';
import { notifySlackDeps } from '../../functions/notify-slack';
import { makeRestoreHandler, sfnDeps as restoreDeps } from '../../functions/restore';
import { makeRestoreTableHandler, sfnDeps as restoreTableDeps } from '../../functions/restore-table';
import { policyFromEnv, retentionHandler } from '../../functions/retention';
import { ecsDeps, scheduleBackupHandler } from '../../functions/schedule-backup';
import { taskStoppedHandler } from '../../functions/task-stopped';
import { makeValidateHandler, sfnDeps as validateDeps } from '../../functions/validate';
import { watchdogFromEnv } from '../../functions/watchdog';
import { noMetrics } from '../../shared/metrics';
import { pgBaseBackupTools } from '../../shared/adapters/postgres/basebackup';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runBaseBackup } from '../../shared/usecases/base-backup';
import { startTestCluster, type TestCluster } from '../support/pg';
import { packagedConfigOf } from '../deploy/packaged-config';

import { catalogIndexHandler } from '../../functions/catalog-index';
import { checksumHandler } from '../../functions/checksum';
import { functionDeps, makeArchiveEndpointHandler } from '../../functions/archive-endpoint';
import { makePitrHandler } from '../../functions/pitr';
import { serializeManifest, MANIFEST_FORMAT_VERSION, type Manifest } from '../../shared/domain/manifest';
import type { BackupEntry } from '../../shared/domain/backup';
import { objectCreatedEvent } from '../../shared/domain/object-event';
import { walDamagedKey, walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { reconcileHandler } from '../../functions/reconcile';
import { readDatabaseSecret } from '../../shared/adapters/secrets/database-secret';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { awsDeps } from '../../shared/runtime/aws';
import { captureLog } from '../support/stack';
import { asPrincipal, brokenLimit } from '../support/aws-rules/recorder';
import { decide, decideByFunctionPolicy } from '../support/aws-rules/evaluate';
import { unreachedCalls } from './unreached-calls';
import { describeDenials, startAwsWorld, type AwsWorld } from '../support/aws-rules/world';
import { IAM, urlEvent } from '../support/function-url';
import { declareForged, declareSegment, fakeSegment, sha256, type DeclaredFile } from '../support/wal-files';

let world: AwsWorld;
/** The database hosts' role (param archiverRoleArn). */
const HOST_ROLE = 'arn:aws:iam::123456789012:role/strongbox-db-host';

beforeAll(async () => {
  world = await startAwsWorld({ archiverRoleArn: HOST_ROLE, subnets: 'subnet-0a1b2c3d,subnet-4e5f6a7b', securityGroups: 'sg-0123abcd' });
}, 300_000);

afterAll(async () => world?.stop());

/** The ObjectCreated event of `key` as the topic delivers it to the functions. */
function snsEvent(key: string): unknown {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        Sns: { Type: 'Notification', TopicArn: 'arn:aws:sns:eu-west-1:123456789012:strongbox-test-object-created', Message: JSON.stringify(objectCreatedEvent({ bucket: world.model.bucketName, key, size: 100, time: new Date() })) },
      },
    ],
  };
}

/** A logical backup's manifest of database app, daily, taken 2026-12-04 03:00. */
function logicalManifest(id: string, dump: { key: string; bytes: number; sha256: string }, tables: Manifest['tables'] = []): Manifest {
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    compression: 'gzip',
    startedAt: '2026-12-04T03:00:00.000Z',
    finishedAt: '2026-12-04T03:01:00.000Z',
    source: { pgDatabase: 'app', serverVersion: '15.18', serverVersionNum: 150018, systemIdentifier: '7311234567890123456', walLsn: '0/3000000', databaseSizeBytes: 1000 },
    tools: { strongbox: 'test', pgDump: '15.18' },
    tables,
    objects: { dump },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bodyOf = (result: { body: string }): any => JSON.parse(result.body);

async function pushSegment(handle: ReturnType<typeof makeArchiveEndpointHandler>, database: string, segno: bigint, file: DeclaredFile = declareSegment(fakeSegment({ segno }), 'gzip')) {
  const name = `00000001${segno.toString(16).toUpperCase().padStart(16, '0')}`;
  const prepare = await handle(urlEvent('POST', `/v1/wal/${database}/${name}`, { json: file.declaration }));
  const plan = bodyOf(prepare);
  if (prepare.statusCode !== 200) return { name, prepare, complete: prepare };
  const put = await fetch(plan.url, { method: 'PUT', headers: plan.headers, body: file.stored });
  expect(put.status).toBe(200);
  const complete = await handle(urlEvent('POST', `/v1/wal/${database}/${name}/complete`, { json: file.declaration }));
  return { name, prepare, complete };
}

describe('held to AWS rules', () => {
  const segments: string[] = [];

  it('archiveEndpoint: the first wal-push of a database is stored (its reads of missing keys get 404, not 403)', async () => {
    const handle = makeArchiveEndpointHandler({ ...functionDeps({ ...world.env, ...world.model.envOf('archiveEndpoint') }, world.clients()), log: captureLog() });
    for (const segno of [4n, 5n, 6n]) {
      const pushed = await asPrincipal('archiveEndpoint', () => pushSegment(handle, 'app', segno));
      expect(pushed.prepare.statusCode).toBe(200);
      expect(pushed.complete.statusCode).toBe(201);
      segments.push(pushed.name);
    }
    const again = await world.invoke('archiveEndpoint', handle, urlEvent('GET', `/v1/wal/app/${segments[0]}`));
    expect(again.statusCode).toBe(200);
    const missing = await world.invoke('archiveEndpoint', handle, urlEvent('GET', '/v1/wal/app/000000010000000000000009'));
    expect(missing.statusCode).toBe(404);
    // The packaged map gives the fixture's databases to the hosts' role only.
    expect(world.model.envOf('archiveEndpoint').STRONGBOX_ARCHIVERS).toBe('strongbox-db-host=app,billing');
    const stranger = { ...IAM, userArn: 'arn:aws:sts::123456789012:assumed-role/some-other-role/i-0def' };
    const refused = await world.invoke('archiveEndpoint', handle, urlEvent('GET', `/v1/wal/app/${segments[0]}`, { iam: stranger }));
    expect(refused.statusCode).toBe(403);
  });

  it('catalogIndex: indexes WAL records, and one whose object is gone alerts WAL_OBJECT_INVALID through SNS', async () => {
    const deps = awsDeps(world.env, captureLog(), world.clients());
    const admin = awsDeps(world.env, captureLog(), world.adminClients());
    for (const name of segments.slice(0, 2)) {
      const result = await world.invoke('catalogIndex', catalogIndexHandler(deps), snsEvent(walRecordKey('app', name)), { async: true });
      expect(result.indexed).toEqual([name]);
    }
    const lost = segments[2]!;
    const record = JSON.parse((await admin.storage.getBytes(walRecordKey('app', lost))).toString('utf8')) as { objectKey: string };
    await admin.storage.delete([record.objectKey]);
    const before = world.stub.requests.length;
    await expect(world.invoke('catalogIndex', catalogIndexHandler(deps), snsEvent(walRecordKey('app', lost)), { async: true })).rejects.toMatchObject({ code: 'WAL_OBJECT_INVALID' });
    const published = world.stub.requests.slice(before).filter((request) => request.operation === 'Publish').map((request) => String(request.body.Message));
    expect(published.join('\n')).toContain('WAL_OBJECT_INVALID');
  });

  it('catalogIndex: a deferred record whose object decodes to other bytes is withdrawn under its own role (.damaged.json, record deleted, catalog items) and alerts WAL_DAMAGED', async () => {
    // Prepare: complete accepts it (S3-checked stored bytes, a good header); the bytes after the first blocks are not the declared file
    const handle = makeArchiveEndpointHandler({ ...functionDeps({ ...world.env, ...world.model.envOf('archiveEndpoint') }, world.clients()), log: captureLog() });
    const honest = fakeSegment({ segno: 7n });
    const other = Buffer.from(honest);
    other[700 * 1024] = other[700 * 1024]! ^ 0xff;
    const lying = declareSegment(other, 'zstd');
    const file = declareForged(lying.stored, { ...lying.declaration, sha256: sha256(honest) }, 'zstd');
    const pushed = await asPrincipal('archiveEndpoint', () => pushSegment(handle, 'app', 7n, file));
    expect(pushed.complete.statusCode).toBe(201);
    const deps = awsDeps(world.env, captureLog(), world.clients());
    const admin = awsDeps(world.env, captureLog(), world.adminClients());
    const before = world.stub.requests.length;
    // Act
    const result = await world.invoke('catalogIndex', catalogIndexHandler(deps), snsEvent(walRecordKey('app', pushed.name)), { async: true });
    // Assess
    expect(result).toMatchObject({ indexed: [], damaged: [pushed.name] });
    expect(await admin.storage.head(walRecordKey('app', pushed.name))).toBeUndefined();
    expect(await admin.storage.head(walDamagedKey('app', pushed.name))).toBeDefined();
    expect(await admin.walCatalog.getWal('app', pushed.name)).toBeUndefined();
    const published = world.stub.requests.slice(before).filter((request) => request.operation === 'Publish').map((request) => String(request.body.Message));
    expect(published.join('\n')).toContain('WAL_DAMAGED');
  });

  it('pitr: a plan over a WAL record deleted from storage names the gap (its HEAD of a missing key is 404, not 403)', async () => {
    const deps = awsDeps(world.env, captureLog(), world.clients());
    const admin = awsDeps(world.env, captureLog(), world.adminClients());
    const base: BackupEntry = {
      id: '20261204T020000Z-b-aws1',
      database: 'app',
      kind: 'base',
      tier: 'daily',
      scope: 'full',
      state: 'VERIFIED',
      key: 'base/daily/app/20261204T020000Z-b-aws1/dump.zst',
      manifestKey: 'base/daily/app/20261204T020000Z-b-aws1/manifest.json',
      compression: 'zstd',
      startedAt: '2026-12-04T02:00:00.000Z',
      finishedAt: '2026-12-04T02:01:00.000Z',
      heartbeatAt: '2026-12-04T02:01:00.000Z',
      base: { startLsn: '0/400028', stopLsn: '0/400100', timeline: 1, stopTimeline: 1, systemId: '7311234567890123456', pgVersion: 15, walSegments: { first: segments[0]!, last: segments[0]! }, label: '', walIncluded: true },
    };
    await admin.catalog.create(base);
    const planned = await world.invoke('pitr', makePitrHandler(deps), { database: 'app', latest: true, dryRun: true });
    expect(planned).toMatchObject({ wal: { last: segments[1] } });
    await admin.storage.delete([walRecordKey('app', segments[1]!)]);
    const gap = await world.invoke('pitr', makePitrHandler(deps), { database: 'app', latest: true, dryRun: true }).catch((error: unknown) => error);
    expect(gap).toMatchObject({ code: 'WAL_GAP', message: expect.stringContaining(segments[1]!) });
  });

  it('checksum: a backup whose dump is missing is marked FAILED with an alert, not retried', async () => {
    const deps = awsDeps(world.env, captureLog(), world.clients());
    const admin = awsDeps(world.env, captureLog(), world.adminClients());
    const id = '20261204T030000Z-l-aws1';
    const manifest = logicalManifest(id, { key: `logical/daily/app/${id}/dump`, bytes: 10, sha256: 'a'.repeat(64) });
    const key = `logical/daily/app/${id}/manifest.json`;
    await admin.storage.putBytes(key, Buffer.from(serializeManifest(manifest)));
    const before = world.stub.requests.length;
    const result = await world.invoke('checksum', checksumHandler(deps), snsEvent(key), { async: true });
    expect(result.failed).toEqual([id]);
    expect((await admin.catalog.get(id))?.state).toBe('FAILED');
    expect(world.stub.requests.slice(before).some((request) => request.operation === 'Publish')).toBe(true);
  });

});

describe('with Object Lock default retention on the bucket', () => {
  it('every write carries a checksum header (S3 refuses one without), and reads back the same bytes', async () => {
    world.recorder.strictness.objectLock = true;
    try {
      const { s3 } = world.clients();
      const storage = new S3Storage(s3, world.model.bucketName, { partSizeBytes: 5 * 1024 * 1024, queueSize: 2 });
      const big = randomBytes(12 * 1024 * 1024 + 17);
      const small = randomBytes(1000);
      const written = await asPrincipal('dumpTask', async () => ({
        big: await storage.putStream('logical/daily/app/20261204T040000Z-l-lock/dump', Readable.from([big.subarray(0, 7_000_000), big.subarray(7_000_000)])),
        small: await storage.putBytes('logical/daily/app/20261204T040000Z-l-lock/manifest.json', small),
      }));
      expect(written.big.sha256).toBe(createHash('sha256').update(big).digest('hex'));
      const admin = awsDeps(world.env, captureLog(), world.adminClients());
      expect(createHash('sha256').update(await admin.storage.getBytes('logical/daily/app/20261204T040000Z-l-lock/dump')).digest('hex')).toBe(written.big.sha256);
      expect(Buffer.compare(await admin.storage.getBytes('logical/daily/app/20261204T040000Z-l-lock/manifest.json'), small)).toBe(0);
      expect(world.recorder.of('dumpTask').filter((call) => call.command === 'UploadPart')).toHaveLength(3);
    } finally {
      world.recorder.strictness.objectLock = false;
    }
  });

  it('the rule itself refuses a PutObject without a checksum header, as S3 does', async () => {
    world.recorder.strictness.objectLock = true;
    try {
      const { s3 } = world.clients();
      const put = asPrincipal('dumpTask', () => s3.send(new PutObjectCommand({ Bucket: world.model.bucketName, Key: 'logical/daily/app/x/dump', Body: Buffer.from('x') })));
      await expect(put).rejects.toMatchObject({ name: 'InvalidRequest', $metadata: { httpStatusCode: 400 } });
    } finally {
      world.recorder.strictness.objectLock = false;
    }
  });
});

describe('the dump task', () => {
  it("reads a restore target's secret that the config does not name when it is under strongbox/<stage>/ (a new server after a total loss)", async () => {
    world.stub.answer('GetSecretValue', () => ({ body: { SecretString: JSON.stringify({ host: 'db.new', port: 5432, username: 'restorer', password: 'x', dbname: 'app' }) } }));
    const secrets = world.stubClient((config) => new SecretsManagerClient(config));
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/test/app-new-server-AbCdEf';
    const connection = await asPrincipal('dumpTask', () => readDatabaseSecret(secrets, arn, 'app'));
    expect(connection).toMatchObject({ host: 'db.new', user: 'restorer', database: 'app' });
  });

  it('refuses any other secret with SECRET_ACCESS_DENIED and a hint naming the convention', async () => {
    const secrets = world.stubClient((config) => new SecretsManagerClient(config));
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/payroll-AbCdEf';
    await expect(asPrincipal('dumpTask', () => readDatabaseSecret(secrets, arn, 'app'))).rejects.toMatchObject({ code: 'SECRET_ACCESS_DENIED', hint: expect.stringContaining('strongbox/<stage>/') });
    // The denied call is recorded: drop it so the final check keeps to what the roles must allow.
    world.recorder.calls.splice(world.recorder.calls.findIndex((call) => call.input.SecretId === arn), 1);
  });
});

describe('a call the role does not allow', () => {
  it('is ACCESS_DENIED with a hint naming the permission and where to grant it, for S3 and DynamoDB', async () => {
    const deps = awsDeps(world.env, captureLog(), world.clients());
    const before = world.recorder.calls.length;
    // pitr reads only wal/*: a logical backup is out of its reach.
    const read = await asPrincipal('pitr', () => deps.storage.get('logical/daily/app/20261204T030000Z-l-aws1/manifest.json').catch((error: unknown) => error));
    expect(read).toMatchObject({ code: 'ACCESS_DENIED', hint: expect.stringContaining(`s3:GetObject on arn:aws:s3:::${world.model.bucketName}/logical/daily/app/20261204T030000Z-l-aws1/manifest.json`) });
    expect(String((read as { hint: string }).hint)).toContain('serverless.yml');
    // pitr never writes the catalog.
    const write = await asPrincipal('pitr', () => deps.walCatalog.putArchiveStatus('app', { measuredAt: new Date().toISOString() }).catch((error: unknown) => error));
    expect(write).toMatchObject({ code: 'ACCESS_DENIED', hint: expect.stringContaining('dynamodb:PutItem on arn:aws:dynamodb:') });
    // These calls were meant to be denied: keep them out of the final check.
    world.recorder.calls.splice(before);
  });
});

describe('the database hosts', () => {
  it('may call the archive endpoint through its Function URL: both lambda:InvokeFunctionUrl and lambda:InvokeFunction (required since October 2025)', async () => {
    const session = 'arn:aws:sts::123456789012:assumed-role/strongbox-db-host/i-0abc';
    const url = await decideByFunctionPolicy(world.model, 'archiveEndpoint', session, 'lambda:InvokeFunctionUrl', { 'lambda:FunctionUrlAuthType': 'AWS_IAM', 'aws:PrincipalArn': HOST_ROLE });
    const invoke = await decideByFunctionPolicy(world.model, 'archiveEndpoint', session, 'lambda:InvokeFunction', { 'lambda:InvokedViaFunctionUrl': 'true', 'aws:PrincipalArn': HOST_ROLE });
    expect([url.result, url.errors]).toEqual(['Allowed', undefined]);
    expect([invoke.result, invoke.errors]).toEqual(['Allowed', undefined]);
    // The invoke grant holds only through the URL: a direct Invoke by the hosts stays denied.
    const direct = await decideByFunctionPolicy(world.model, 'archiveEndpoint', session, 'lambda:InvokeFunction', { 'aws:PrincipalArn': HOST_ROLE });
    expect(direct.allowed).toBe(false);
  });
});

describe('every other function, through its own wiring and its environment as deployed', () => {
  /** A function's environment from the packaged template. */
  const envOf = (key: string) => ({ ...world.env, ...world.model.envOf(key) });
  const admin = () => awsDeps(world.env, captureLog(), world.adminClients());
  const verifiedLogical = (id: string, tier: BackupEntry['tier'] = 'daily'): BackupEntry => ({
    id,
    database: 'app',
    kind: 'logical',
    tier,
    scope: 'full',
    state: 'VERIFIED',
    key: `logical/${tier}/app/${id}/dump`,
    manifestKey: `logical/${tier}/app/${id}/manifest.json`,
    compression: 'gzip',
    startedAt: '2026-12-01T03:00:00.000Z',
    finishedAt: '2026-12-01T03:01:00.000Z',
    heartbeatAt: '2026-12-01T03:01:00.000Z',
    sha256: 'd'.repeat(64),
    bytes: 10,
  });

  it('scheduleBackup: records the backup RUNNING and runs the dump task (the exact RunTask sent)', async () => {
    world.stub.answer('RunTask', () => ({ body: { tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/strongbox-test/0123456789abcdef' }], failures: [] } }));
    const ecs = world.stubClient((config) => new ECSClient(config));
    const deps = ecsDeps(envOf('scheduleBackup'), { ...world.clients(), ecs });
    const result = await world.invoke('scheduleBackup', scheduleBackupHandler(deps), { database: 'app', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:strongbox/app-AbCdEf', time: '2026-12-04T03:00:00Z' }, { async: true });
    expect(result).toMatchObject({ state: 'RUNNING', launched: true });
    const runTask = world.stub.requests.find((request) => request.operation === 'RunTask')!;
    expect(runTask.body).toMatchObject({ cluster: world.model.resolve({ 'Fn::GetAtt': ['EcsCluster', 'Arn'] }), taskDefinition: world.model.resolve({ Ref: 'DumpTaskDefinition' }), launchType: 'FARGATE' });
  });

  it('watchdog: fails a RUNNING backup whose task stopped heart-beating, and asks again for the verification of an UPLOADED one', async () => {
    const stale: BackupEntry = { ...verifiedLogical('20261201T030000Z-l-stale'), state: 'RUNNING', heartbeatAt: '2026-12-01T03:00:10.000Z' };
    delete stale.finishedAt;
    await admin().catalog.create(stale);
    const unverified: BackupEntry = { ...verifiedLogical('20261201T040000Z-l-unver'), state: 'UPLOADED' };
    await admin().catalog.create(unverified);
    await admin().storage.putBytes(unverified.manifestKey, Buffer.from(serializeManifest(logicalManifest(unverified.id, { key: unverified.key, bytes: 1, sha256: 'e'.repeat(64) }))));
    await admin().storage.putBytes(unverified.key, Buffer.from('x'));
    const { sns, ...rest } = world.clients();
    const run = watchdogFromEnv(envOf('watchdog'), awsDeps(envOf('watchdog'), captureLog(), { sns, ...rest }), sns);
    const before = world.stub.requests.length;
    await world.invoke('watchdog', run, {}, { async: true });
    expect((await admin().catalog.get(stale.id))?.state).toBe('FAILED');
    // The manifest's ObjectCreated event, republished on the object-created topic.
    const asked = world.stub.requests.slice(before).filter((request) => request.operation === 'Publish' && String(request.body.TopicArn).endsWith(':strongbox-test-object-created'));
    expect(asked.map((request) => String(request.body.Message))).toEqual([expect.stringContaining(unverified.manifestKey)]);
  });

  it('restore, restoreTable and validate: plan from the catalog and start their state machines', async () => {
    world.stub.answer('StartExecution', (request) => ({ body: { executionArn: `${String(request.body.stateMachineArn).replace(':stateMachine:', ':execution:')}:${String(request.body.name)}`, startDate: 1_796_000_000 } }));
    const backup = verifiedLogical('20261202T030000Z-l-good');
    await admin().catalog.create(backup);
    const manifest = logicalManifest(backup.id, { key: backup.key, bytes: 10, sha256: backup.sha256! }, [{ schema: 'public', name: 'orders', rows: 3 }]);
    await admin().storage.putBytes(backup.manifestKey, Buffer.from(serializeManifest(manifest)));
    const target = { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/test/app-target-AbCdEf' };
    const sfn = () => world.stubClient((config) => new SFNClient(config));
    const restore = await world.invoke('restore', makeRestoreHandler(restoreDeps(envOf('restore'), { ...world.clients(), sfn: sfn() })), { backupId: 'latest', database: 'app', target, confirm: 'app' });
    expect(restore).toMatchObject({ executionArn: expect.stringContaining(':execution:strongbox-test-restore:') });
    const table = await world.invoke('restoreTable', makeRestoreTableHandler(restoreTableDeps(envOf('restoreTable'), { ...world.clients(), sfn: sfn() })), { backupId: 'latest', database: 'app', table: 'public.orders', mode: 'side-by-side', target, confirm: 'app' });
    expect(table).toMatchObject({ executionArn: expect.stringContaining(':execution:strongbox-test-restore-table:') });
    const drill = await world.invoke('validate', makeValidateHandler(validateDeps(envOf('validate'), { ...world.clients(), sfn: sfn() })), { backupId: 'latest', database: 'app' });
    expect(drill).toMatchObject({ executionArn: expect.stringContaining(':execution:strongbox-test-validate:') });
  });

  it('dispatch: starts every database\'s due jobs (Lambda Invoke, Step Functions StartExecution) with its role', async () => {
    world.stub.answer('Invoke', () => ({ status: 202, body: '' }));
    world.stub.answer('StartExecution', (request) => ({ body: { executionArn: `${String(request.body.stateMachineArn).replace(':stateMachine:', ':execution:')}:${String(request.body.name)}`, startDate: 1_796_000_000 } }));
    const deps = dispatchDeps(envOf('dispatch'), { ...world.clients(), lambda: world.stubClient((config) => new LambdaClient(config)), sfn: world.stubClient((config) => new SFNClient(config)) });
    const handle = dispatchHandler(deps, packagedConfigOf('test/fixtures/strongbox.config.json'));
    const before = world.stub.requests.length;
    // 03:00 (app's dump, both checkpoints) and 04:00 on the 1st (both checkpoints and drills).
    const dumps = await world.invoke('dispatch', handle, { time: '2027-01-01T03:00:20Z' }, { async: true });
    const drills = await world.invoke('dispatch', handle, { time: '2027-01-01T04:00:20Z' }, { async: true });
    expect(dumps).toMatchObject({ started: 3, failed: [] });
    // …and each database's physical drill (sized from the catalog under the dispatcher's role).
    expect(drills).toMatchObject({ started: 6, failed: [] });
    const sent = world.stub.requests.slice(before).filter((request) => request.operation !== 'Publish');
    expect(sent.filter((request) => request.operation === 'Invoke').map((request) => [request.body.FunctionName, request.body.InvocationType])).toEqual([
      ['strongbox-test-scheduleBackup', 'Event'], ['strongbox-test-walCheckpoint', 'Event'], ['strongbox-test-walCheckpoint', 'Event'], ['strongbox-test-walCheckpoint', 'Event'], ['strongbox-test-walCheckpoint', 'Event'],
    ]);
    expect(sent.filter((request) => request.operation === 'StartExecution').map((request) => request.body.stateMachineArn)).toEqual(Array.from({ length: 4 }, () => envOf('dispatch').STRONGBOX_VALIDATE_STATE_MACHINE_ARN));
    expect(sent.filter((request) => request.operation === 'StartExecution').map((request) => String(request.body.name).split('-')[0]).sort()).toEqual(['drill', 'drill', 'pdrill', 'pdrill']);
  });

  it('deadman and taskStopped: read the catalog and alert', async () => {
    const deadman = awsDeps(envOf('deadman'), captureLog(), world.clients());
    const silent = await world.invoke('deadman', () => deadmanHandler({ ...deadman, metrics: noMetrics }, deadmanSettings(envOf('deadman'), packagedConfigOf('test/fixtures/strongbox.config.json')))(), {}, { async: true });
    expect(silent).toBeDefined();
    const stopped = awsDeps(envOf('taskStopped'), captureLog(), world.clients());
    const cluster = envOf('taskStopped').STRONGBOX_CLUSTER_ARN!;
    const event = {
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      detail: { clusterArn: cluster, lastStatus: 'STOPPED', taskArn: `${cluster.replace(':cluster/', ':task/')}/0123`, stoppedReason: 'Essential container in task exited', containers: [{ name: 'dump', exitCode: 1 }], tags: [{ key: 'strongbox:backup-id', value: '20261204T030000Z-l-dead' }] },
    };
    const result = await world.invoke('taskStopped', taskStoppedHandler({ ...stopped, clusterArn: cluster }), event, { async: true });
    expect(result).toMatchObject({ alerted: true });
  });

  it('retention: its daily sweep plans and applies over the catalog and the bucket', async () => {
    const deps = awsDeps(envOf('retention'), captureLog(), world.clients());
    const old = verifiedLogical('20250101T030000Z-l-old');
    await admin().catalog.create({ ...old, startedAt: '2025-01-01T03:00:00.000Z', finishedAt: '2025-01-01T03:01:00.000Z' });
    await admin().storage.putBytes(old.key, Buffer.from('x'));
    await admin().storage.putBytes(old.manifestKey, Buffer.from('{}'));
    const result = await world.invoke('retention', retentionHandler(deps, () => policyFromEnv(envOf('retention'))), { sweep: true }, { async: true });
    expect(result).toBeDefined();
    expect(await admin().storage.head(old.key)).toBeUndefined();
  });

  it('reconcile: indexes a WAL record whose event was lost, and alerts WAL_EVENTS_LOST through SNS', async () => {
    const name = '000000010000000000000020';
    const lost: WalRecord = {
      format: WAL_RECORD_FORMAT,
      database: 'app',
      name,
      kind: 'segment',
      timeline: 1,
      segno: '32',
      objectKey: walObjectKey('app', name, 'gzip'),
      compression: 'gzip',
      size: 16 * 1024 * 1024,
      sha256: 'a'.repeat(64),
      storedSize: 5,
      storedSha256: 'b'.repeat(64),
      systemId: '7311234567890123456',
      archivedAt: '2026-12-04T03:00:00.000Z',
    };
    await admin().storage.putBytes(lost.objectKey, Buffer.from('bytes'));
    await admin().storage.putBytes(walRecordKey('app', name), Buffer.from(JSON.stringify(lost)));
    const deps = { ...awsDeps(envOf('reconcile'), captureLog(), world.clients()), clock: () => new Date(Date.now() + 2 * 3_600_000) };
    const before = world.stub.requests.length;
    const configured = async () => packagedConfigOf('test/fixtures/strongbox.config.json').databases.map((database) => database.name);
    const result = await world.invoke('reconcile', reconcileHandler(deps, configured), {}, { async: true });
    expect(result.repairedFiles).toContainEqual({ database: 'app', name });
    expect(await admin().walCatalog.getWal('app', name)).toBeDefined();
    const published = world.stub.requests.slice(before).filter((request) => request.operation === 'Publish').map((request) => String(request.body.Message));
    expect(published.join('\n')).toContain('WAL_EVENTS_LOST');
  });

  it('notifySlack: reads its webhook URL from SSM', async () => {
    world.stub.answer('GetParameter', (request) => ({ body: { Parameter: { Name: request.body.Name, Type: 'SecureString', Value: 'https://hooks.slack.com/services/T0000/B0000/XXXXXXXX', Version: 1 } } }));
    const env = envOf('notifySlack');
    const deps = notifySlackDeps(env, captureLog(), { ssm: world.stubClient((config) => new SSMClient(config)), secrets: world.stubClient((config) => new SecretsManagerClient(config)) });
    expect(await asPrincipal('notifySlack', () => deps.webhookUrl())).toBe('https://hooks.slack.com/services/T0000/B0000/XXXXXXXX');
  });
});

describe('the dump task and the functions its backups wake, on real PostgreSQL', () => {
  let pg: TestCluster | undefined;
  afterAll(async () => pg?.stop());

  it('a logical, a base and a parallel logical backup as the dump task; checksum verifies and catalogIndex indexes them', async () => {
    pg = await startTestCluster({ settings: { wal_level: 'replica' } });
    await pg.cluster.psql('CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 500) g;');
    const task = { ...awsDeps(world.env, captureLog(), world.clients()), version: 'test' };
    const common = { database: 'app', connection: pg.conn, tier: 'daily' as const, runner: 'ecs:ip-10-0-1-7', waitForVerification: false };
    const logical = await asPrincipal('dumpTask', () => runLogicalBackup({ ...task, tools: pgDumpTools }, { ...common, compression: 'gzip', includeRolePasswords: false }));
    const base = await asPrincipal('dumpTask', () => runBaseBackup({ ...task, tools: pgBaseBackupTools }, { ...common, compression: 'zstd' }));
    // A parallel backup: its parts are new keys under the same prefix, written and read by the same roles.
    const parallel = await asPrincipal('dumpTask', () => runLogicalBackup({ ...task, tools: pgDumpTools }, { ...common, tier: 'weekly', compression: 'zstd', includeRolePasswords: false, dumpJobs: 2 }));
    // One table: its rows in the one data part (the rest part), then post-data, then the schema part.
    expect(parallel.partKeys?.map((key) => key.slice(key.lastIndexOf('/') + 1))).toEqual(['data-01.dump.zst', 'post-data.dump.zst', 'schema.dump.zst']);
    for (const entry of [logical, base, parallel]) expect(entry.state).toBe('UPLOADED');
    const functions = awsDeps(world.env, captureLog(), world.clients());
    for (const entry of [logical, base, parallel]) {
      await world.invoke('catalogIndex', catalogIndexHandler(functions), snsEvent(entry.manifestKey), { async: true });
      const checked = await world.invoke('checksum', checksumHandler(functions), snsEvent(entry.manifestKey), { async: true });
      expect(checked.verified).toEqual([entry.id]);
    }
  }, 120_000);
});

describe('service limits where the code meets them', () => {
  it('the harness refuses what AWS refuses: an SNS message over 256 KB, a DynamoDB item over 400 KB, part 10,001, a Step Functions input over 256 KB', async () => {
    expect(brokenLimit('SNS', 'Publish', { Message: 'x'.repeat(256 * 1024 + 1) })).toMatchObject({ name: 'InvalidParameterException' });
    expect(brokenLimit('DynamoDB', 'Put', { Item: { pk: 'x', blob: 'y'.repeat(400 * 1024) } })).toMatchObject({ name: 'ValidationException' });
    expect(brokenLimit('S3', 'UploadPart', { PartNumber: 10_001, Body: Buffer.alloc(1) })).toMatchObject({ name: 'InvalidArgument' });
    expect(brokenLimit('SFN', 'StartExecution', { input: 'z'.repeat(256 * 1024 + 1) })).toMatchObject({ name: 'InvalidExecutionInput' });
    expect(brokenLimit('SNS', 'Publish', { Message: 'small' })).toBeUndefined();
    const { sns } = world.clients();
    const publish = asPrincipal('taskStopped', () => sns.send(new PublishCommand({ TopicArn: world.model.alertTopicArn, Message: 'x'.repeat(300 * 1024) })));
    await expect(publish).rejects.toMatchObject({ name: 'InvalidParameterException' });
    world.recorder.calls.pop();
    world.recorder.brokenLimits.pop();
  });

  it('every function environment as packaged fits in Lambda\'s 4 KB', () => {
    const sizes = [...world.model.principals.keys()]
      .filter((key) => world.model.resources[`${key[0]!.toUpperCase()}${key.slice(1)}LambdaFunction`])
      .map((key) => ({ key, bytes: Object.entries(world.model.envOf(key)).reduce((sum, [name, value]) => sum + name.length + value.length, 0) }));
    expect(sizes.length).toBeGreaterThan(10);
    expect(sizes.filter((size) => size.bytes > 4096)).toEqual([]);
  });
});

describe('the roles as packaged', () => {
  it('every call recorded above is allowed by its role as packaged', async () => {
    expect(world.recorder.calls.length).toBeGreaterThan(10);
    expect(world.recorder.calls.filter((call) => call.principal === 'unattributed')).toEqual([]);
    const denials = await world.check();
    expect(describeDenials(denials)).toBe('');
  });

  it('and the calls listed as unreachable here (unreached-calls.ts) too', async () => {
    const denials: string[] = [];
    for (const listed of unreachedCalls(world.model)) {
      const principal = world.model.principals.get(listed.principal);
      const decision = principal ? await decide(world.model, principal, listed.request) : undefined;
      if (!decision?.allowed) denials.push(`${listed.principal}: ${listed.request.action} on ${listed.request.resource} → ${decision?.result ?? 'no such principal'} ${decision?.errors ?? ''} (${listed.codePath})`);
    }
    expect(denials.join('\n')).toBe('');
  });

  it('no call of the suite broke a service limit, and each handler\'s duration and memory are reported against its configuration', () => {
    expect(world.recorder.brokenLimits).toEqual([]);
    const rows = [...world.invocations.entries()].map(([key, seen]) => {
      const fn = world.model.resources[`${key[0]!.toUpperCase()}${key.slice(1)}LambdaFunction`]?.Properties ?? {};
      return `${key.padEnd(16)} ${String(seen.count).padStart(3)} calls, longest ${seen.maxMs.toFixed(0).padStart(6)} ms of ${String(fn.Timeout ?? '?').padStart(4)} s, RSS +${seen.maxRssMiB.toFixed(1).padStart(6)} MiB of ${String(fn.MemorySize ?? '?')} MB`;
    });
    console.log(`handlers in this suite (in-process; RSS growth is an upper bound):\n${rows.join('\n')}`);
    expect(rows.length).toBeGreaterThan(10);
  });

  it('grants no recorded or listed call uses are reported', async () => {
    const unused = await world.unusedGrants(unreachedCalls(world.model));
    console.log(unused.map((grant) => `${grant.principal} ${grant.policy}#${grant.statement}: ${grant.actions.join(', ')} on ${JSON.stringify(grant.resource)}`).join('\n'));
  });
});
