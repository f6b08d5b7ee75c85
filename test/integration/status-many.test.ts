/**
 * `status` of several databases reads their backups in one paged listing of every backup
 * (the backups' index) instead of one Query per database, and answers exactly as it does
 * database by database: real dynalite, real catalog adapters, a repository folder.
 * Counts of requests are asserted, never wall-clock time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { INDEX_BY_DATABASE, INDEX_BY_ENTITY } from '../../shared/adapters/catalog/schema';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { BackupEntry } from '../../shared/domain/backup';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { formatLsn, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { silentLog } from '../../shared/ports';
import { readStatus, type StatusDeps } from '../../shared/usecases/status';

const TABLE = 'status-many';
const SHA = 'b'.repeat(64);
const START = Date.UTC(2026, 10, 20);
const NOW = new Date(START + 3 * 86_400_000);
const at = (minutes: number) => new Date(START + minutes * 60_000).toISOString();

let dynalite: DynaliteServer;
let dir: string;
let deps: StatusDeps;
/** Index names of the Queries sent since the last reset. */
const indexes: Array<string | undefined> = [];
/** Names of the commands sent since the last reset. */
const commands: string[] = [];

function logical(database: string, day: number): BackupEntry {
  const startedAt = at(day * 1440 + 60);
  return { id: `2026112${day}T010000Z-l-${database}`, database, kind: 'logical', tier: 'daily', scope: 'full', state: 'VERIFIED', key: `logical/daily/${database}/${day}/dump`, manifestKey: `logical/daily/${database}/${day}/manifest.json`, compression: 'gzip', startedAt, finishedAt: startedAt, heartbeatAt: startedAt } as BackupEntry;
}

function base(database: string, segno: number): BackupEntry {
  return {
    id: `20261120T000000Z-b-${database}`, database, kind: 'base', tier: 'daily', scope: 'full', state: 'VERIFIED',
    key: `base/daily/${database}/b/dump.zst`, manifestKey: `base/daily/${database}/b/manifest.json`, compression: 'zstd',
    startedAt: at(segno - 1), finishedAt: at(segno + 1), heartbeatAt: at(segno + 1),
    base: {
      startLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x28n), stopLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x1000n),
      timeline: 1, stopTimeline: 1, systemId: '7311234567890123456', pgVersion: 15,
      walSegments: { first: segmentName(1, BigInt(segno)), last: segmentName(1, BigInt(segno)) }, label: '', walIncluded: true,
    },
  } as BackupEntry;
}

function segment(database: string, segno: number): WalRecord {
  const name = segmentName(1, BigInt(segno));
  return { format: WAL_RECORD_FORMAT, database, name, kind: 'segment', timeline: 1, segno: String(segno), objectKey: walObjectKey(database, name, 'zstd'), compression: 'zstd', size: 16 * 1024 * 1024, sha256: SHA, storedSize: 100, storedSha256: SHA, systemId: '7311234567890123456', archivedAt: at(segno) } as WalRecord;
}

beforeAll(async () => {
  dynalite = await startDynalite({});
  dir = await mkdtemp(join(tmpdir(), 'sbx-status-many-'));
  const client = makeDynamoClient({ endpoint: dynalite.endpoint });
  await ensureCatalogTable(client, TABLE);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(String(context.commandName));
      const input = args.input as Partial<QueryCommandInput>;
      if (input.KeyConditionExpression !== undefined) indexes.push(input.IndexName);
      return next(args);
    },
    { step: 'initialize', name: 'statusManyQueries' },
  );
  const documents = toDocumentClient(client);
  // Page size 2: the listing of every backup pages even here.
  const catalog = new DynamoCatalog(documents, TABLE, { pageSize: 2 });
  const walCatalog = new DynamoWalCatalog(documents, TABLE);
  deps = { catalog, walCatalog, storage: new FolderStorage(join(dir, 'repo')), log: silentLog };
  // a and d: WAL, a base backup starting inside the archived range (its record is read for
  // its time) and logical backups; b: logical backups only; c: nothing; other: not asked about.
  for (const database of ['a', 'd']) {
    await walCatalog.recordWals(Array.from({ length: 12 }, (_, index) => segment(database, index + 1)), at(13));
    await catalog.create(base(database, 3));
  }
  for (const database of ['a', 'b', 'd', 'other']) for (let day = 0; day < 3; day += 1) await catalog.create(logical(database, day));
  await walCatalog.recordRestorePoint('a', { name: 'before-upgrade', lsn: formatLsn(segmentStartLsn(5n) + 0x100n), timeline: 1, createdAt: at(5) });
}, 120_000);

afterAll(async () => {
  await dynalite?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('status of several databases', () => {
  it('answers as database by database, from one listing of every backup', async () => {
    commands.length = 0;
    const one = [];
    for (const database of ['a', 'b', 'c', 'd']) one.push((await readStatus(deps, { databases: [database], now: NOW })).databases[0]);
    expect(indexes.filter((name) => name === INDEX_BY_DATABASE).length).toBeGreaterThanOrEqual(4);
    expect(commands.filter((name) => name === 'BatchGetItemCommand')).toHaveLength(0);
    indexes.length = 0;
    commands.length = 0;
    const many = await readStatus(deps, { databases: ['a', 'b', 'c', 'd'], now: NOW });
    expect(many.databases).toEqual(one);
    expect(many.databases.map((status) => status.database)).toEqual(['a', 'b', 'c', 'd']);
    // The records where the base backups cut the ranges (one each for a and d): one BatchGetItem, no GetItem.
    expect(commands.filter((name) => name === 'BatchGetItemCommand')).toHaveLength(1);
    expect(commands.filter((name) => name === 'GetItemCommand')).toHaveLength(0);
    expect(many.databases[3]!.pitr.from).toBe(one[3]!.pitr.from);
    // No Query per database on the by-database index: the backups' listing instead.
    expect(indexes.filter((name) => name === INDEX_BY_DATABASE)).toHaveLength(0);
    expect(indexes.filter((name) => name === INDEX_BY_ENTITY).length).toBeGreaterThan(0);
    expect(many.databases[0]!.pitr.archivedSegments).toBeGreaterThan(0);
  });
});
