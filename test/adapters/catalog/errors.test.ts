import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../../shared/adapters/catalog';
import { CatalogError } from '../../../shared/errors';
import { startDynalite, type DynaliteServer } from '../../../shared/local/dynalite-server';
import { backupEntry } from './entries';

let server: DynaliteServer;
const clients: DynamoDBClient[] = [];

function catalogAt(endpoint: string, table: string): DynamoCatalog {
  const client = makeDynamoClient({ endpoint, maxAttempts: 1 });
  clients.push(client);
  return new DynamoCatalog(toDocumentClient(client), table);
}

/** A loopback port nobody listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  server = await startDynalite({});
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await server?.stop();
});

describe('DynamoCatalog failures', () => {
  it('names the table and endpoint when the table does not exist', async () => {
    // Prepare
    const catalog = catalogAt(server.endpoint, 'no-such-table');
    // Act
    const error = await catalog.get('x').catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(CatalogError);
    expect(error).toMatchObject({ code: 'CATALOG_FAILED' });
    expect((error as Error).message).toContain('"no-such-table"');
    expect((error as Error).message).toContain(server.endpoint);
    expect((error as CatalogError).hint).toMatch(/table name/);
  });

  it('reports an unreachable endpoint as a CatalogError, on reads and on conditional writes', async () => {
    // Prepare
    const catalog = catalogAt(`http://127.0.0.1:${await closedPort()}`, 'entries');
    // Act
    const read = await catalog.listAll().catch((e: unknown) => e);
    const write = await catalog.create(backupEntry('x')).catch((e: unknown) => e);
    // Assess
    for (const error of [read, write]) {
      expect(error).toBeInstanceOf(CatalogError);
      expect((error as Error).message).toMatch(/unreachable \(ECONNREFUSED\)/);
      expect((error as CatalogError).hint).toMatch(/reachable/);
    }
  });
});
