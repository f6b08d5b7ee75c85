import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { CatalogError, StrongboxError } from '../../shared/errors';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { backupEntry } from '../adapters/catalog/entries';

/** Holds a dynalite on argv[1] until killed; prints `ready` once LevelDB is open (a ListTables answered). */
const HOLDER_SCRIPT = `
const server = require('dynalite')({ path: process.argv[1] });
server.listen(0, '127.0.0.1', async () => {
  const response = await fetch('http://127.0.0.1:' + server.address().port, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables',
      authorization: 'AWS4-HMAC-SHA256 Credential=l/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0', 'x-amz-date': '20260101T000000Z' },
    body: '{}',
  });
  if (response.status === 200) console.log('ready');
});
`;

let home: string;
const clients: DynamoDBClient[] = [];
const servers: DynaliteServer[] = [];

async function start(options: Parameters<typeof startDynalite>[0]): Promise<DynaliteServer> {
  const server = await startDynalite(options);
  servers.push(server);
  return server;
}

function clientOf(server: DynaliteServer): DynamoDBClient {
  const client = makeDynamoClient({ endpoint: server.endpoint, maxAttempts: 1 });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'strongbox-dynalite-'));
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  // stop() is idempotent, so servers a test already stopped are fine here.
  await Promise.all(servers.map((server) => server.stop()));
  await rm(home, { recursive: true, force: true });
});

describe('startDynalite', () => {
  it('listens on 127.0.0.1 and creates the catalog table once, ACTIVE at once', async () => {
    // Prepare
    const server = await start({});
    const client = clientOf(server);
    // Act
    await ensureCatalogTable(client, 'catalog');
    await ensureCatalogTable(client, 'catalog');
    // Assess
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    const table = (await client.send(new DescribeTableCommand({ TableName: 'catalog' }))).Table;
    expect(table?.TableStatus).toBe('ACTIVE');
    expect(table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toStrictEqual(['byDatabase', 'byEntity', 'byState']);
  });

  it('keeps the catalog on disk across a stop and a start', async () => {
    // Prepare
    const path = join(home, 'persist', 'catalog');
    const first = await start({ path });
    const firstClient = clientOf(first);
    await ensureCatalogTable(firstClient, 'catalog');
    await new DynamoCatalog(toDocumentClient(firstClient), 'catalog').create(backupEntry('kept-1'));
    await first.stop();
    // Act
    const second = await start({ path });
    const secondClient = clientOf(second);
    await ensureCatalogTable(secondClient, 'catalog');
    // Assess
    expect(await new DynamoCatalog(toDocumentClient(secondClient), 'catalog').get('kept-1')).toStrictEqual(backupEntry('kept-1'));
  });

  it('refuses a catalog directory another process holds, and leaves the holder working', async () => {
    // Prepare
    const path = join(home, 'locked');
    const holder = await start({ path });
    const holderClient = clientOf(holder);
    await ensureCatalogTable(holderClient, 'catalog');
    // Act
    const error = await startDynalite({ path }).then(
      (intruder) => {
        servers.push(intruder);
        return undefined;
      },
      (e: unknown) => e,
    );
    // Assess
    expect(error).toBeInstanceOf(StrongboxError);
    expect(error).toMatchObject({ code: 'CATALOG_LOCKED' });
    expect((error as StrongboxError).hint).toMatch(/npm start/);
    expect(await new DynamoCatalog(toDocumentClient(holderClient), 'catalog').create(backupEntry('after-refusal'))).toBe(true);
  });

  it('refuses a catalog directory held by another OS process', async () => {
    // Prepare: a separate Node process opens the directory through dynalite, as `npm start` would.
    const path = join(home, 'held-by-child');
    const child = spawn(process.execPath, ['-e', HOLDER_SCRIPT, path], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (data: Buffer) => data.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      // Act
      const error = await startDynalite({ path }).catch((e: unknown) => e);
      // Assess
      expect(error).toMatchObject({ code: 'CATALOG_LOCKED' });
    } finally {
      child.kill();
    }
  });

  it('reports a port already in use as a CatalogError', async () => {
    const taken = await start({});
    const error = await startDynalite({ port: taken.port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as Error).message).toContain('EADDRINUSE');
  });

  it('refuses a table of the same name with another shape', async () => {
    // Prepare
    const server = await start({});
    const client = clientOf(server);
    await client.send(
      new CreateTableCommand({
        TableName: 'foreign',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    // Act
    const error = await ensureCatalogTable(client, 'foreign').catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as Error).message).toMatch(/not a Strongbox catalog.*missing indexes byDatabase, byEntity, byState/);
  });
});
