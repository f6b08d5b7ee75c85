import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../../shared/adapters/catalog';
import { BACKUP_STATES } from '../../../shared/domain/backup';
import type { BackupEntry } from '../../../shared/domain/backup';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../../shared/local/dynalite-server';
import { backupEntry, minute } from './entries';

const PAGE_SIZE = 7;

let server: DynaliteServer;
let client: DynamoDBClient;
let catalog: DynamoCatalog;
const written: BackupEntry[] = [];
let queries = 0;

/** Newest first, ties broken by id (descending), as the contract says. */
function newestFirst(entries: BackupEntry[]): string[] {
  return [...entries].sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id)).map((entry) => entry.id);
}

function ids(entries: BackupEntry[]): string[] {
  return entries.map((entry) => entry.id);
}

beforeAll(async () => {
  server = await startDynalite({});
  client = makeDynamoClient({ endpoint: server.endpoint });
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'QueryCommand') queries += 1;
      return next(args);
    },
    { step: 'initialize' },
  );
  await ensureCatalogTable(client, 'lists');
  catalog = new DynamoCatalog(toDocumentClient(client), 'lists', { pageSize: PAGE_SIZE });
  for (let i = 0; i < 60; i += 1) {
    written.push(
      backupEntry(`b-${String(i).padStart(2, '0')}`, {
        database: i % 3 === 0 ? 'billing' : 'app',
        kind: i % 2 === 0 ? 'logical' : 'base',
        state: BACKUP_STATES[i % 4],
        // The last two share a start time: the id orders them.
        startedAt: minute(Math.min(i, 58)),
      }),
    );
  }
  // Written out of order, so that order can only come from the index.
  const shuffled = [...written].sort((a, b) => (a.id.at(-1) ?? '').localeCompare(b.id.at(-1) ?? '') || b.id.localeCompare(a.id));
  for (let start = 0; start < shuffled.length; start += 10) {
    await Promise.all(shuffled.slice(start, start + 10).map((entry) => catalog.create(entry)));
  }
  await catalog.acquireLock('logical:app', 'b-00', minute(0));
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('DynamoCatalog lists', () => {
  it('lists every backup newest first across many pages', async () => {
    const before = queries;
    const all = await catalog.listAll();
    expect(queries - before).toBe(Math.ceil(60 / PAGE_SIZE));
    expect(all).toHaveLength(60);
    expect(ids(all)).toStrictEqual(newestFirst(written));
    expect(ids(all).slice(0, 2)).toStrictEqual(['b-59', 'b-58']);
    expect(all[0]).toStrictEqual(written[59]);
  });

  it('stops at the limit, across page boundaries', async () => {
    expect(ids(await catalog.listAll({ limit: 25 }))).toStrictEqual(newestFirst(written).slice(0, 25));
    expect(ids(await catalog.listAll({ limit: 3 }))).toStrictEqual(newestFirst(written).slice(0, 3));
    expect(await catalog.listAll({ limit: 0 })).toStrictEqual([]);
  });

  it('filters by kind, with and without a limit', async () => {
    const base = written.filter((entry) => entry.kind === 'base');
    expect(ids(await catalog.listAll({ kind: 'base' }))).toStrictEqual(newestFirst(base));
    expect(ids(await catalog.listAll({ kind: 'base', limit: 10 }))).toStrictEqual(newestFirst(base).slice(0, 10));
  });

  it('lists one database newest first', async () => {
    const billing = written.filter((entry) => entry.database === 'billing');
    const appLogical = written.filter((entry) => entry.database === 'app' && entry.kind === 'logical');
    expect(ids(await catalog.listByDatabase('billing'))).toStrictEqual(newestFirst(billing));
    expect(ids(await catalog.listByDatabase('app', { kind: 'logical', limit: 8 }))).toStrictEqual(newestFirst(appLogical).slice(0, 8));
    expect(await catalog.listByDatabase('nobody')).toStrictEqual([]);
  });

  it('lists one state newest first, following transitions', async () => {
    // Prepare
    const running = written.filter((entry) => entry.state === 'RUNNING');
    expect(ids(await catalog.listByState('RUNNING'))).toStrictEqual(newestFirst(running));
    // Act
    await catalog.transition('b-56', 'FAILED', { reason: 'heartbeat stale' });
    // Assess
    const stillRunning = ids(await catalog.listByState('RUNNING'));
    expect(stillRunning).toStrictEqual(newestFirst(running).filter((id) => id !== 'b-56'));
    const failed = written.filter((entry) => entry.state === 'FAILED' || entry.id === 'b-56');
    expect(ids(await catalog.listByState('FAILED'))).toStrictEqual(newestFirst(failed));
  });
});
