import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { INDEX_BY_DATABASE } from '../../shared/adapters/catalog/schema';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { formatLsn, parseWalName, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { CatalogError, ConflictError, InputError, type StrongboxError } from '../../shared/errors';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { backupEntry, minute } from './catalog/entries';

const MiB = 1024 * 1024;
const TABLE = 'wal';
const PAGE_SIZE = 50;

let server: DynaliteServer;
let client: DynamoDBClient;
let wal: DynamoWalCatalog;
let backups: DynamoCatalog;
let queries = 0;

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A valid record of `name` in `database`, as the archive endpoint writes it. */
function walRecord(name: string, overrides: Partial<WalRecord> = {}, segmentSize = 16 * MiB): WalRecord {
  const parsed = parseWalName(name, segmentSize);
  const database = overrides.database ?? 'app';
  const objectKey = overrides.objectKey ?? walObjectKey(database, name, 'zstd');
  const range =
    parsed.segno !== undefined && parsed.kind !== 'backup'
      ? { segno: parsed.segno.toString(), startLsn: formatLsn(segmentStartLsn(parsed.segno, segmentSize)), endLsn: formatLsn(segmentStartLsn(parsed.segno + 1n, segmentSize)) }
      : parsed.segno !== undefined
        ? { segno: parsed.segno.toString() }
        : {};
  return {
    format: WAL_RECORD_FORMAT,
    database,
    name,
    kind: parsed.kind,
    timeline: parsed.timeline,
    ...range,
    objectKey,
    compression: 'zstd',
    size: parsed.kind === 'history' ? 42 : segmentSize,
    sha256: sha(`${database}/${name}`),
    storedSize: 1234,
    storedSha256: sha(`stored ${database}/${name}`),
    ...(parsed.kind === 'segment' || parsed.kind === 'partial' ? { systemId: '7311234567890123456' } : {}),
    archivedAt: '2026-03-01T10:00:00.000Z',
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

function names(records: Array<{ name: string }>): string[] {
  return records.map((record) => record.name);
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
  await ensureCatalogTable(client, TABLE);
  wal = new DynamoWalCatalog(toDocumentClient(client), TABLE, { pageSize: PAGE_SIZE });
  backups = new DynamoCatalog(toDocumentClient(client), TABLE);
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('DynamoWalCatalog records', () => {
  it('records a WAL file once and reads it back with its indexing time, without the table keys', async () => {
    // Prepare
    const record = walRecord('000000010000000000000003', { database: 'rec' });
    // Act
    const first = await wal.recordWal(record, '2026-03-01T10:00:01.000Z');
    const again = await wal.recordWal(record, '2026-03-01T10:05:00.000Z');
    const read = await wal.getWal('rec', record.name);
    // Assess
    expect(first).toBe('created');
    expect(again).toBe('exists');
    expect(read).toStrictEqual({ ...record, indexedAt: '2026-03-01T10:00:01.000Z' });
    expect(await wal.getWal('rec', '000000010000000000000004')).toBeUndefined();
    expect(await wal.getWal('other', record.name)).toBeUndefined();
  });

  it('refuses other bytes under a recorded name, naming both hashes, and keeps the first', async () => {
    // Prepare
    const record = walRecord('000000010000000000000005', { database: 'rec' });
    await wal.recordWal(record, '2026-03-01T10:00:01.000Z');
    const impostor = { ...record, sha256: sha('other bytes'), storedSize: 99 };
    // Act
    const error = await rejection(wal.recordWal(impostor, '2026-03-01T10:00:02.000Z'));
    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect((error as Error).message).toContain(record.sha256);
    expect((error as Error).message).toContain(impostor.sha256);
    expect((error as ConflictError).hint).toMatch(/archive_command/);
    expect(await wal.getWal('rec', record.name)).toMatchObject({ sha256: record.sha256, storedSize: 1234 });
  });

  it('lets exactly one of many concurrent writers of the same file create it', async () => {
    // Prepare
    const record = walRecord('000000010000000000000007', { database: 'race' });
    // Act
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => wal.recordWal(record, `2026-03-01T10:00:0${i}.000Z`)));
    // Assess
    expect(outcomes.filter((outcome) => outcome === 'created')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'exists')).toHaveLength(7);
  });

  it('refuses bad names, bad database names and a record that contradicts its name', async () => {
    // Act
    const badName = await rejection(wal.getWal('app', '../000000010000000000000003'));
    const badDatabase = await rejection(wal.getWal('a/b', '000000010000000000000003'));
    const lying = await rejection(wal.recordWal({ ...walRecord('000000020000000000000003'), timeline: 1 }, 'x'));
    const lyingKind = await rejection(wal.recordWal({ ...walRecord('000000020000000000000003'), kind: 'partial' }, 'x'));
    // Assess
    expect(badName).toMatchObject({ code: 'BAD_WAL_NAME' });
    expect(badDatabase).toBeInstanceOf(InputError);
    expect(lying).toBeInstanceOf(InputError);
    expect(lyingKind).toBeInstanceOf(InputError);
    expect(await wal.getWal('app', '000000020000000000000003')).toBeUndefined();
  });
});

describe('DynamoWalCatalog lists', () => {
  const COUNT = 1100;

  beforeAll(async () => {
    // Written in shuffled order: the order of the lists can only come from the keys.
    const segnos = Array.from({ length: COUNT }, (_, i) => BigInt((i * 7919) % COUNT));
    for (let start = 0; start < segnos.length; start += 50) {
      await Promise.all(segnos.slice(start, start + 50).map((segno) => wal.recordWal(walRecord(segmentName(1, segno), { database: 'big' }), minute(0))));
    }
    for (const name of ['000000010000000000000010.partial', '000000020000000000000010', '000000020000000000000011', '000000020000000000000011.partial', '000000030000000000000012']) {
      await wal.recordWal(walRecord(name, { database: 'big' }), minute(1));
    }
    for (const name of ['00000003.history', '00000002.history', '000000010000000000000002.00000028.backup', '000000010000000000000001.00000060.backup', '000000020000000000000011.000000D8.backup']) {
      await wal.recordWal(walRecord(name, { database: 'big' }), minute(2));
    }
    await wal.recordWal(walRecord('000000010000000000000001', { database: 'big-2' }), minute(3));
  }, 600_000);

  it('lists a timeline\'s thousand segments in order, page by page', async () => {
    // Act
    const before = queries;
    const all = await wal.listSegments('big', 1);
    // Assess
    expect(queries - before).toBeGreaterThanOrEqual(Math.ceil(COUNT / PAGE_SIZE));
    expect(all).toHaveLength(COUNT + 1);
    const expected = Array.from({ length: COUNT }, (_, i) => segmentName(1, BigInt(i)));
    expected.splice(17, 0, '000000010000000000000010.partial');
    expect(names(all)).toStrictEqual(expected);
    expect(all[0]).toMatchObject({ database: 'big', kind: 'segment', timeline: 1, segno: '0', indexedAt: minute(0) });
    expect(all[0]).not.toHaveProperty('pk');
  });

  it('lists a range of segment numbers, inclusive, with the partial of its last', async () => {
    expect(names(await wal.listSegments('big', 1, 15n, 16n))).toStrictEqual(['00000001000000000000000F', '000000010000000000000010', '000000010000000000000010.partial']);
    expect(names(await wal.listSegments('big', 1, 1097n))).toStrictEqual([1097n, 1098n, 1099n].map((segno) => segmentName(1, segno)));
    expect(names(await wal.listSegments('big', 1, undefined, 1n))).toStrictEqual(['000000010000000000000000', '000000010000000000000001']);
    expect(await wal.listSegments('big', 1, 5n, 4n)).toStrictEqual([]);
    expect(names(await wal.listSegments('big', 1, 255n, 256n))).toStrictEqual(['0000000100000000000000FF', '000000010000000100000000']);
  });

  it('turns segment numbers into names with the segment size given', async () => {
    // Prepare: with 1 MiB segments, segment 0x100 is still in the first 4 GiB.
    // (walObjectKey assumes 16 MiB segments: see the report; the key does not matter here.)
    for (const name of ['0000000100000000000000FF', '000000010000000000000100']) {
      await wal.recordWal(walRecord(name, { database: 'small', objectKey: `wal/small/0000000100000000/${name}.zst` }, MiB), minute(0));
    }
    // Act
    const listed = await wal.listSegments('small', 1, 0xffn, 0x100n, MiB);
    // Assess
    expect(names(listed)).toStrictEqual(['0000000100000000000000FF', '000000010000000000000100']);
    expect(await wal.getWal('small', '000000010000000000000100')).toMatchObject({ segno: '256' });
  });

  it('keeps timelines and databases apart', async () => {
    expect(names(await wal.listSegments('big', 2))).toStrictEqual(['000000020000000000000010', '000000020000000000000011', '000000020000000000000011.partial']);
    expect(names(await wal.listSegments('big', 3))).toStrictEqual(['000000030000000000000012']);
    expect(await wal.listSegments('big', 4)).toStrictEqual([]);
    expect(names(await wal.listSegments('big-2', 1))).toStrictEqual(['000000010000000000000001']);
  });

  it('lists histories and backup labels ascending', async () => {
    expect(names(await wal.listHistories('big'))).toStrictEqual(['00000002.history', '00000003.history']);
    expect(names(await wal.listBackupLabels('big'))).toStrictEqual(['000000010000000000000001.00000060.backup', '000000010000000000000002.00000028.backup', '000000020000000000000011.000000D8.backup']);
    expect(await wal.listHistories('big-2')).toStrictEqual([]);
  });

  it('summarises the timelines with their highest file, which never goes backwards', async () => {
    // Act
    const summary = await wal.timelines('big');
    // Assess
    expect(summary).toStrictEqual([
      { timeline: 1, highestName: segmentName(1, BigInt(COUNT - 1)), updatedAt: minute(0) },
      { timeline: 2, highestName: '000000020000000000000011.partial', updatedAt: minute(1) },
      { timeline: 3, highestName: '000000030000000000000012', updatedAt: minute(1) },
    ]);
    expect(await wal.timelines('nothing')).toStrictEqual([]);
  });

  it('refuses a timeline that cannot exist and negative segment numbers', async () => {
    expect(await rejection(wal.listSegments('big', 0))).toBeInstanceOf(InputError);
    expect(await rejection(wal.listSegments('big', 1, -1n))).toBeInstanceOf(InputError);
  });
});

describe('DynamoWalCatalog archive status and restore points', () => {
  it('keeps the newest archive status, leaving out what was not measured', async () => {
    // Prepare
    const newer = { measuredAt: minute(5), lastArchivedWal: '000000010000000000000009', lastArchivedAt: minute(4), lagSeconds: 61, failedCount: 0, gap: [] };
    // Act
    const wroteOld = await wal.putArchiveStatus('app', { measuredAt: minute(1), lagSeconds: 3, lastFailedWal: undefined });
    const wroteNew = await wal.putArchiveStatus('app', newer);
    const wroteStale = await wal.putArchiveStatus('app', { measuredAt: minute(2), lagSeconds: 1 });
    const status = await wal.getArchiveStatus('app');
    // Assess
    expect([wroteOld, wroteNew, wroteStale]).toStrictEqual([true, true, false]);
    expect(status).toStrictEqual(newer);
    expect(await wal.getArchiveStatus('quiet')).toBeUndefined();
  });

  it('stores the gaps it is given', async () => {
    await wal.putArchiveStatus('holes', { measuredAt: minute(1), gap: ['000000010000000000000003', '000000010000000000000004'] });
    expect((await wal.getArchiveStatus('holes'))?.gap).toStrictEqual(['000000010000000000000003', '000000010000000000000004']);
  });

  it('records restore points once, in PostgreSQL\'s LSN form, and lists them newest first', async () => {
    // Act
    const created = await wal.recordRestorePoint('app', { name: 'sbx-0315', lsn: '0/016b3748', timeline: 1, createdAt: minute(15) });
    const repeated = await wal.recordRestorePoint('app', { name: 'sbx-0315', lsn: '0/16B3748', timeline: 1, createdAt: minute(16) });
    await wal.recordRestorePoint('app', { name: 'sbx-0330', lsn: '0/3000028', timeline: 1, createdAt: minute(30) });
    await wal.recordRestorePoint('app', { name: 'before "migration" #4', lsn: '0/2000000', timeline: 1, createdAt: minute(20) });
    await wal.recordRestorePoint('app', { name: 'a-same-time', lsn: '0/2000001', timeline: 1, createdAt: minute(20) });
    await wal.recordRestorePoint('other', { name: 'sbx-0315', lsn: '0/1', timeline: 2, createdAt: minute(1) });
    // Assess
    expect([created, repeated]).toStrictEqual(['created', 'exists']);
    expect(await wal.getRestorePoint('app', 'sbx-0315')).toStrictEqual({ name: 'sbx-0315', lsn: '0/16B3748', timeline: 1, createdAt: minute(15) });
    expect(names(await wal.listRestorePoints('app'))).toStrictEqual(['sbx-0330', 'before "migration" #4', 'a-same-time', 'sbx-0315']);
    expect(await wal.getRestorePoint('app', 'nope')).toBeUndefined();
  });

  it('refuses a taken name at another LSN, an LSN that does not parse and an empty name', async () => {
    // Prepare
    await wal.recordRestorePoint('rp', { name: 'p', lsn: '0/10', timeline: 1, createdAt: minute(1) });
    // Act
    const taken = await rejection(wal.recordRestorePoint('rp', { name: 'p', lsn: '0/20', timeline: 1, createdAt: minute(2) }));
    const otherTimeline = await rejection(wal.recordRestorePoint('rp', { name: 'p', lsn: '0/10', timeline: 2, createdAt: minute(2) }));
    const badLsn = await rejection(wal.recordRestorePoint('rp', { name: 'q', lsn: 'yesterday', timeline: 1, createdAt: minute(2) }));
    const empty = await rejection(wal.recordRestorePoint('rp', { name: '', lsn: '0/10', timeline: 1, createdAt: minute(2) }));
    // Assess
    expect(taken).toBeInstanceOf(ConflictError);
    expect((taken as Error).message).toMatch(/0\/10 on timeline 1, not 0\/20 on 1/);
    expect(otherTimeline).toBeInstanceOf(ConflictError);
    expect(badLsn).toMatchObject({ code: 'BAD_LSN' });
    expect(empty).toBeInstanceOf(InputError);
    expect(names(await wal.listRestorePoints('rp'))).toStrictEqual(['p']);
  });
});

describe('WAL items beside backups', () => {
  it('never appear in the backup lists or indexes', async () => {
    // Prepare: backups and WAL of the same database in the same table.
    await backups.create(backupEntry('b-1', { database: 'shared', startedAt: minute(1) }));
    await backups.create(backupEntry('b-2', { database: 'shared', startedAt: minute(2), state: 'UPLOADED' }));
    await wal.recordWal(walRecord('000000010000000000000001', { database: 'shared' }), minute(3));
    await wal.recordWal(walRecord('00000002.history', { database: 'shared' }), minute(3));
    await wal.recordWal(walRecord('000000010000000000000001.00000028.backup', { database: 'shared' }), minute(3));
    await wal.putArchiveStatus('shared', { measuredAt: minute(3) });
    await wal.recordRestorePoint('shared', { name: 'p', lsn: '0/1', timeline: 1, createdAt: minute(3) });
    // Act
    const byDatabase = await backups.listByDatabase('shared');
    const all = await backups.listAll();
    const running = await backups.listByState('RUNNING');
    const scan = await client.send(new ScanCommand({ TableName: TABLE, IndexName: INDEX_BY_DATABASE }));
    const items = await client.send(new ScanCommand({ TableName: TABLE }));
    // Assess
    expect(byDatabase.map((entry) => entry.id)).toStrictEqual(['b-2', 'b-1']);
    expect(all.map((entry) => entry.id)).toStrictEqual(['b-2', 'b-1']);
    expect(running.map((entry) => entry.id)).toStrictEqual(['b-1']);
    expect(scan.Items?.map((item) => item.id?.S).sort()).toStrictEqual(['b-1', 'b-2']);
    const walItems = (items.Items ?? []).filter((item) => !item.pk?.S?.startsWith('BACKUP#'));
    expect(walItems.length).toBeGreaterThanOrEqual(6);
    // No WAL item has a state, and none with a database has the index sort key: none is in byDatabase or byState.
    // Those of the WAL view (timelines, status, restore points, ranges) are in byEntity, under WALVIEW#<shard>, never BACKUP.
    expect(walItems.filter((item) => item.state || (item.database && item.gsiSort))).toStrictEqual([]);
    expect(walItems.filter((item) => item.entity && !item.entity.S?.startsWith('WALVIEW#'))).toStrictEqual([]);
    expect(walItems.filter((item) => item.entity && item.gsiSort?.S?.startsWith('shared#')).map((item) => item.gsiSort?.S).sort()).toStrictEqual(['shared#META#STATUS', 'shared#META#TL#00000001', 'shared#RANGE#00000001#0000000000000001', 'shared#RP#p']);
  });
});

describe('DynamoWalCatalog failures', () => {
  it('reports a missing table and an unreachable endpoint as CatalogErrors', async () => {
    // Prepare
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const down = makeDynamoClient({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    const missing = new DynamoWalCatalog(toDocumentClient(client), 'no-such-table');
    const unreachable = new DynamoWalCatalog(toDocumentClient(down), TABLE);
    try {
      // Act
      const errors = [
        await rejection(missing.recordWal(walRecord('000000010000000000000001'), minute(0))),
        await rejection(missing.listSegments('app', 1)),
        await rejection(unreachable.getWal('app', '000000010000000000000001')),
        await rejection(unreachable.putArchiveStatus('app', { measuredAt: minute(0) })),
        await rejection(unreachable.timelines('app')),
      ];
      // Assess
      for (const error of errors) {
        expect(error).toBeInstanceOf(CatalogError);
        expect((error as StrongboxError).hint.length).toBeGreaterThan(0);
      }
      expect((errors[0] as Error).message).toMatch(/record WAL file 000000010000000000000001 of database app: .*"no-such-table" .* does not exist/);
      expect((errors[2] as Error).message).toMatch(/unreachable \(ECONNREFUSED\)/);
    } finally {
      down.destroy();
    }
  });
});

describe('DynamoWalCatalog for retention', () => {
  async function archive(database: string, timeline: number, segnos: number[]): Promise<string[]> {
    const recorded: string[] = [];
    for (const segno of segnos) {
      const name = segmentName(timeline, BigInt(segno));
      await wal.recordWal(walRecord(name, { database }), minute(segno));
      recorded.push(name);
    }
    return recorded;
  }

  it('pages through the segments and partials below a cut-off, one Query per page, and counts them without reading them', async () => {
    // Prepare
    const recorded = await archive('cut', 1, Array.from({ length: 120 }, (_, i) => i + 1));
    await wal.recordWal(walRecord('000000010000000000000009.partial', { database: 'cut' }), minute(0));
    await archive('cut', 2, [5, 6]);
    const below = segmentName(1, 100n);
    // Act
    const before = queries;
    const pages: string[][] = [];
    let after: string | undefined;
    do {
      const page = await wal.listSegmentsBelow('cut', 1, below, { limit: 40, ...(after ? { after } : {}) });
      pages.push(names(page.records));
      after = page.next;
    } while (after);
    const listed = pages.flat();
    const count = await wal.countSegmentsBelow('cut', 1, below);
    // Assess
    expect(listed).toEqual([...recorded.slice(0, 9), '000000010000000000000009.partial', ...recorded.slice(9, 99)]);
    expect(pages.slice(0, 3).map((page) => page.length)).toEqual([40, 40, 20]);
    expect(count).toBe(100);
    expect(queries - before).toBeGreaterThanOrEqual(pages.length + 1);
    expect(names((await wal.listSegmentsBelow('cut', 2, segmentName(2, 6n))).records)).toEqual([segmentName(2, 5n)]);
    expect((await wal.listSegmentsBelow('cut', 1, segmentName(1, 1n))).records).toEqual([]);
  });

  it('refuses a cut-off that is not a segment of the timeline, and a page size below 1', async () => {
    // Act
    const errors = [
      await rejection(wal.listSegmentsBelow('cut', 1, segmentName(2, 5n))),
      await rejection(wal.listSegmentsBelow('cut', 1, '00000001000000000000000')),
      await rejection(wal.countSegmentsBelow('cut', 0, segmentName(1, 5n))),
      await rejection(wal.listSegmentsBelow('cut', 1, segmentName(1, 5n), { limit: 0 })),
    ];
    // Assess
    for (const error of errors) expect(error).toBeInstanceOf(InputError);
  });

  it('deletes records in batches of 25, including ones already gone, and leaves the others', async () => {
    // Prepare
    const recorded = await archive('del', 1, Array.from({ length: 60 }, (_, i) => i + 1));
    // Act
    await wal.deleteWalRecords('del', [...recorded.slice(0, 55), segmentName(1, 500n)]);
    await wal.deleteWalRecords('del', recorded.slice(0, 3));
    // Assess
    expect(names(await wal.listSegments('del', 1))).toEqual(recorded.slice(55));
    expect(await wal.getWal('del', recorded[0]!)).toBeUndefined();
  });

  it('stores a retention mark, refuses an older one over a newer, and clears only the one it was given', async () => {
    // Prepare
    const mark = { at: minute(10), rule: 'WAL_CUTOFF', timelines: [{ timeline: 1, deleteBelow: segmentName(1, 7n) }], keep: [{ first: '0000000000000002', last: '0000000000000003', backupId: 'b1' }] };
    // Act
    const none = await wal.getRetentionMark('mark');
    await wal.putRetentionMark('mark', mark);
    const older = await rejection(wal.putRetentionMark('mark', { ...mark, at: minute(5) }));
    await wal.clearRetentionMark('mark', minute(9));
    const stillThere = await wal.getRetentionMark('mark');
    await wal.clearRetentionMark('mark', minute(10));
    // Assess
    expect(none).toBeUndefined();
    expect(older).toBeInstanceOf(ConflictError);
    expect(stillThere).toStrictEqual(mark);
    expect(await wal.getRetentionMark('mark')).toBeUndefined();
    expect(await wal.timelines('mark')).toEqual([]);
  });

  it('deletes one restore point and leaves the others', async () => {
    // Prepare
    for (const [index, name] of ['rp-a', 'rp-b'].entries()) {
      await wal.recordRestorePoint('rpdel', { name, lsn: `0/${index + 1}000000`, timeline: 1, createdAt: minute(index) });
    }
    // Act
    await wal.deleteRestorePoint('rpdel', 'rp-a');
    await wal.deleteRestorePoint('rpdel', 'rp-a');
    // Assess
    expect((await wal.listRestorePoints('rpdel')).map((point) => point.name)).toEqual(['rp-b']);
  });
});
