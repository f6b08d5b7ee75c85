import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checksumHandler } from '../../functions/checksum';
import { walCheckpointHandler } from '../../functions/wal-checkpoint';
import { connectClient } from '../../shared/adapters/postgres/client';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import { pgWalServer } from '../../shared/adapters/postgres/wal-server';
import { readDatabaseSecret } from '../../shared/adapters/secrets/database-secret';
import { EmfMetrics } from '../../shared/adapters/metrics/emf';
import { SnsAlertPublisher } from '../../shared/adapters/sns/alerts';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import type { BackupEntry } from '../../shared/domain/backup';
import { objectCreatedEvent } from '../../shared/domain/object-event';
import { loadConfig } from '../../shared/local/config-file';
import { openLocalContext, type LocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import { stderrLog } from '../../shared/local/stderr-log';
import { lambdaHandler, lambdaLog } from '../../shared/runtime/lambda';
import { EXIT, runDumpTask } from '../../tasks/dump';
import { startTestCluster, type TestCluster } from '../support/pg';

// A backup whose connection carries a password, run for real (the dump task in local mode:
// pg_dump, storage, catalog, checksum; then the Lambda checksum and WAL checkpoint behind
// Powertools' logger), with every byte written to stdout and stderr captured. The password
// must appear in no log line, no alert, no catalog entry and no stored object but the dump.
const SECRET = 'S3cretPa55';
const WRONG = 'Wr0ngPa55word';
const secretsMock = mockClient(SecretsManagerClient);
const snsMock = mockClient(SNSClient);

let pg: TestCluster;
let dir: string;
let env: NodeJS.ProcessEnv;
let context: LocalContext | undefined;
const output: string[] = [];

/** Runs `act` with process.stdout and process.stderr captured into `output` (Powertools, stderrLog, console alerts). */
async function captured<T>(act: () => Promise<T>): Promise<T> {
  const keep = (chunk: string | Uint8Array) => {
    output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  try {
    return await act();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const lambdaContext = { functionName: 'strongbox-test-fn', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:strongbox-test-fn', memoryLimitInMB: '256', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

beforeAll(async () => {
  pg = await startTestCluster({ password: 'admin-Only-1' });
  await pg.cluster.createDatabase('app');
  const admin = pg.cluster.connection('app');
  await seedSampleData(admin, { rows: 300 });
  const client = await connectClient(admin);
  try {
    await client.query(`CREATE ROLE "user" LOGIN PASSWORD '${SECRET}' IN ROLE pg_read_all_data`);
  } finally {
    await client.end();
  }
  dir = await mkdtemp(join(tmpdir(), 'sbx-secrets-'));
  await writeFile(join(dir, 'strongbox.config.json'), JSON.stringify({ databases: [{ name: 'app' }] }));
  env = {
    PATH: process.env.PATH,
    STRONGBOX_HOME: join(dir, 'home'),
    STRONGBOX_CONFIG: join(dir, 'strongbox.config.json'),
    STRONGBOX_DATABASE: 'app',
    DATABASE_URL: `postgres://user:${SECRET}@127.0.0.1:${admin.port}/app`,
  };
}, 120_000);

afterAll(async () => {
  await context?.close();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('no secret in any log line, alert, catalog entry or stored manifest', () => {
  let entry: BackupEntry;

  it('runs the dump task with the password in DATABASE_URL, and a second one with a wrong password', async () => {
    // Act
    const ok = await captured(() => runDumpTask({ env: { ...env, STRONGBOX_TIER: 'daily' }, cwd: dir, onStop: () => undefined }));
    const refused = await captured(() =>
      runDumpTask({ env: { ...env, STRONGBOX_TIER: 'manual', DATABASE_URL: env.DATABASE_URL!.replace(SECRET, WRONG) }, cwd: dir, onStop: () => undefined }),
    );
    // Assess: both really ran, and said so in the captured logs.
    expect([ok, refused]).toEqual([EXIT.ok, EXIT.failed]);
    const text = output.join('');
    expect(text).toContain('"message":"dump task finished"');
    expect(text).toMatch(/DB_AUTH_FAILED/);
    context = await openLocalContext({ paths: resolveHome(env, dir), storage: loadConfig(env, dir).config.storage, env, log: stderrLog(false) });
    const entries = await context.catalog.listByDatabase('app');
    entry = entries.find((e) => e.state === 'VERIFIED')!;
    expect(entry).toMatchObject({ tier: 'daily', database: 'app' });
  }, 120_000);

  it('runs the Lambda checksum behind Powertools (with its EMF metrics) over that backup', async () => {
    const alerts = new ConsoleAlertPublisher();
    const handle = lambdaHandler('checksum', checksumHandler({ ...context!, alerts, log: lambdaLog, metrics: new EmfMetrics(lambdaLog, { serviceName: 'strongbox' }) }));
    const event = objectCreatedEvent({ bucket: context!.storage.bucket, key: entry.manifestKey, size: 1, time: new Date() });
    const before = output.length;
    const result = await captured(() => handle(event, lambdaContext));
    expect(result).toEqual({ verified: [entry.id], failed: [], ignored: [] });
    const lines = output.slice(before).join('').split('\n').filter((l) => l.startsWith('{'));
    // Powertools' logger line, with the Lambda context injected.
    expect(lines.some((l) => l.includes('"function_request_id":"req-1"'))).toBe(true);
    const emf = lines.map((l) => JSON.parse(l)).filter((l) => l._aws);
    expect(emf.map((l) => Object.keys(l).filter((k) => k.startsWith('Backup')))).toEqual([['BackupsVerified'], ['BackupBytes'], ['BackupDurationSeconds']]);
    expect(emf[1]).toMatchObject({ BackupBytes: entry.bytes, database: 'app', backupId: entry.id, tier: 'daily' });
    expect(emf[2]!.BackupDurationSeconds).toBeGreaterThan(0);
  });

  it('runs the Lambda WAL checkpoint with the password in its secret, failing on purpose (no right to switch WAL)', async () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf';
    secretsMock.on(GetSecretValueCommand, { SecretId: arn }).resolves({
      SecretString: JSON.stringify({ host: '127.0.0.1', port: pg.cluster.connection('app').port, username: 'user', password: SECRET, dbname: 'app', sslmode: 'disable' }),
    });
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
    const handle = lambdaHandler(
      'wal-checkpoint',
      walCheckpointHandler(
        {
          ...context!,
          alerts: new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:123456789012:alerts', lambdaLog),
          log: lambdaLog,
          server: pgWalServer,
          connection: (input) => readDatabaseSecret(secrets, input.secretArn, input.database),
          metrics: new EmfMetrics(lambdaLog, { serviceName: 'strongbox' }),
        },
        { waitMs: 1_000 },
      ),
    );
    const before = output.length;
    await expect(captured(() => handle({ database: 'app', secretArn: arn }, lambdaContext))).rejects.toThrow();
    expect(output.slice(before).join('')).toContain('"message":"wal-checkpoint failed"');
    const published = snsMock.commandCalls(PublishCommand).map((call) => call.args[0].input);
    expect(published.map((input) => JSON.parse(input.Message!).type)).toContain('WAL_CHECKPOINT_FAILED');
    expect(JSON.stringify(published)).not.toContain(SECRET);
  });

  it('finds neither password anywhere', async () => {
    const text = output.join('');
    expect(text.length).toBeGreaterThan(1000);
    expect(text).toContain('127.0.0.1');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(WRONG);
    const entries = await context!.catalog.listByDatabase('app');
    expect(entries.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(entries)).not.toMatch(new RegExp(`${SECRET}|${WRONG}`));
    // Every stored object but the dump itself (manifests, globals), and the task logs on disk.
    for await (const object of context!.storage.list('')) {
      if (object.key === entry.key) continue;
      const bytes = (await context!.storage.getBytes(object.key)).toString('latin1');
      expect([object.key, bytes.includes(SECRET) || bytes.includes(WRONG)]).toEqual([object.key, false]);
    }
    for (const file of await readdir(join(dir, 'home'), { recursive: true, withFileTypes: true })) {
      if (!file.isFile() || !/\.(log|json)$/.test(file.name)) continue;
      const content = await readFile(join(file.parentPath, file.name), 'latin1');
      expect([file.name, content.includes(SECRET)]).toEqual([file.name, false]);
    }
  });
});
