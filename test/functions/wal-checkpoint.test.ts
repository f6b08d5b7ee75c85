import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { walCheckpointHandler } from '../../functions/wal-checkpoint';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient, makeDynamoDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { pgWalServer } from '../../shared/adapters/postgres/wal-server';
import { readDatabaseSecret } from '../../shared/adapters/secrets/database-secret';
import { SnsAlertPublisher } from '../../shared/adapters/sns/alerts';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { startArchivingCluster, startIndexer, type ArchivingCluster } from '../support/archiving-cluster';
import { captureLog } from '../support/stack';

const secretsMock = mockClient(SecretsManagerClient);
const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-alerts';
const GOOD_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf';
const FAILING_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:broken-db-XyZ';
const PASSWORD = 'wal-Secret-7';

let good: ArchivingCluster;
let failing: ArchivingCluster;
let catalog: Catalog;
let walCatalog: WalCatalog;
let stopCatalog: () => Promise<void>;

beforeAll(async () => {
  const [a, b, dynalite] = await Promise.all([
    startArchivingCluster({ mode: 'copy', password: PASSWORD }),
    startArchivingCluster({ mode: 'fail', password: PASSWORD }),
    startDynalite({}),
  ]);
  good = a;
  failing = b;
  stopCatalog = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  walCatalog = new DynamoWalCatalog(makeDynamoDocumentClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
});
afterAll(async () => {
  await Promise.all([good?.stop(), failing?.stop(), stopCatalog?.()]);
});
beforeEach(() => {
  secretsMock.reset();
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  const secret = (cluster: ArchivingCluster) =>
    JSON.stringify({ host: '127.0.0.1', port: cluster.conn.port, username: 'postgres', password: PASSWORD, dbname: 'postgres', sslmode: 'disable' });
  secretsMock.on(GetSecretValueCommand, { SecretId: GOOD_SECRET }).resolves({ SecretString: secret(good) });
  secretsMock.on(GetSecretValueCommand, { SecretId: FAILING_SECRET }).resolves({ SecretString: secret(failing) });
});

function handler() {
  const log = captureLog();
  const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
  const handle = walCheckpointHandler(
    {
      walCatalog,
      catalog,
      server: pgWalServer,
      alerts: new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log),
      log,
      clock: () => new Date(),
      connection: (input) => readDatabaseSecret(secrets, input.secretArn, input.database),
    },
    { waitMs: 20_000 },
  );
  return { handle, log };
}

describe('walCheckpoint function', () => {
  it('reads the secret, switches, sees the segment archived, and publishes nothing', async () => {
    const stopIndexer = startIndexer(good, walCatalog, 'app');
    const { handle } = handler();

    const result = await handle({ database: 'app', secretArn: GOOD_SECRET }).finally(stopIndexer);

    expect(result).toMatchObject({ database: 'app', archived: true, gap: [], alerts: [] });
    expect(result.restorePoint).toMatch(/^strongbox-/);
    expect(result.warnings.join()).toMatch(/no VERIFIED base backup/);
    expect(secretsMock.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([{ SecretId: GOOD_SECRET }]);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
    expect((await walCatalog.getArchiveStatus('app'))!.lastArchivedWal).toBe(result.segment);
  });

  it('archiving that fails: exactly one SNS message, SEV2 ARCHIVE_FAILING, filterable by type and database', async () => {
    const { handle } = handler();

    const result = await handle({ database: 'broken', secretArn: FAILING_SECRET });

    expect(result.archived).toBe(false);
    const published = snsMock.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    const input = published[0]!.args[0].input;
    expect(input).toMatchObject({
      TopicArn: TOPIC,
      Subject: '[SEV2] Strongbox ARCHIVE_FAILING (broken)',
      MessageAttributes: { type: { DataType: 'String', StringValue: 'ARCHIVE_FAILING' }, database: { DataType: 'String', StringValue: 'broken' } },
    });
    expect(JSON.parse(input.Message!).hint).toContain('before pg_wal fills the disk');
    expect(input.Message).not.toContain(PASSWORD);
  });

  it('a secret that cannot be read: one SEV2 WAL_CHECKPOINT_FAILED alert, then SECRET_ACCESS_DENIED', async () => {
    secretsMock.on(GetSecretValueCommand, { SecretId: GOOD_SECRET }).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const { handle } = handler();

    await expect(handle({ database: 'app', secretArn: GOOD_SECRET })).rejects.toMatchObject({ code: 'SECRET_ACCESS_DENIED', hint: expect.stringContaining('strongbox.config.json') });

    const published = snsMock.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(JSON.parse(published[0]!.args[0].input.Message!)).toMatchObject({ type: 'WAL_CHECKPOINT_FAILED', severity: 'SEV2', code: 'SECRET_ACCESS_DENIED', database: 'app' });
  });

  it.each([[{}], [{ database: '../etc', secretArn: GOOD_SECRET }], [{ database: 'app', secretArn: 'not-an-arn' }], [{ database: 'app' }], ['garbage']])(
    'refuses the input %j with INPUT_INVALID before reading any secret',
    async (event) => {
      const { handle } = handler();
      await expect(handle(event)).rejects.toMatchObject({ code: 'INPUT_INVALID' });
      expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    },
  );
});
