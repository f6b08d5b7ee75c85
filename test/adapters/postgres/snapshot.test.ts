import { chmod, writeFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openSnapshot } from '../../../shared/adapters/postgres/snapshot';
import { spawnPgDump } from '../../../shared/adapters/postgres/tools';
import { seedSampleData, sampleRowCounts } from '../../../shared/adapters/postgres/sample-data';
import { exactTablePattern } from '../../../shared/domain/table-pattern';
import { DatabaseConnectionError, InputError } from '../../../shared/errors';
import type { StrongboxError } from '../../../shared/errors';
import { dumpedRowCounts, dumpedTableData, readAll, startTestCluster } from '../../support/pg';
import type { TestCluster } from '../../support/pg';

const PASSWORD = 'snap-s3cret';
const ROWS = 300;
let pg: TestCluster;

beforeAll(async () => {
  pg = await startTestCluster({ password: PASSWORD });
  await seedSampleData(pg.conn, { rows: ROWS });
  // Tables whose names only quoting or patterns can reach.
  await pg.cluster.psql('CREATE TABLE public."MixedCase" (id int); CREATE TABLE public."a.b" (id int); CREATE VIEW public.not_a_table AS SELECT 1 AS one;');
});

afterAll(async () => {
  await pg?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a rejection');
}

describe('openSnapshot', () => {
  it('reports the server and selects every user table, views and system tables left out', async () => {
    // Act
    const session = await openSnapshot(pg.conn);
    await session.close();
    // Assess
    expect(session.snapshotId).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);
    expect(session.serverVersion).toMatch(/^15\.\d+$/);
    expect(session.serverVersionNum).toBeGreaterThanOrEqual(150000);
    expect(session.databaseSizeBytes).toBeGreaterThan(1_000_000);
    expect(session.walLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(session.systemIdentifier).toMatch(/^\d{15,}$/);
    expect(session.tables).toEqual([
      { schema: 'Sales', name: 'orders' },
      { schema: 'public', name: 'MixedCase' },
      { schema: 'public', name: 'a.b' },
      { schema: 'public', name: 'customers' },
      { schema: 'public', name: 'events' },
      { schema: 'public', name: 'events_2024_01' },
      { schema: 'public', name: 'events_2024_02' },
    ]);
  });

  it('checksums each table in the count\'s scan: equal contents, equal checksums, whatever the order; above the exact limit an estimate, marked', async () => {
    const first = await openSnapshot(pg.conn, { tablePatterns: ['customers'] });
    const [a] = await first.countRows().finally(() => first.close());
    // The same rows again after a change and its undoing (other row positions): the same checksum.
    await pg.cluster.psql(`UPDATE public.customers SET name = name || 'x' WHERE id % 2 = 0; UPDATE public.customers SET name = left(name, -1) WHERE id % 2 = 0;`);
    const second = await openSnapshot(pg.conn, { tablePatterns: ['customers'] });
    const [b] = await second.countRows().finally(() => second.close());
    expect(b).toEqual(a);
    await pg.cluster.psql(`UPDATE public.customers SET name = name || 'x' WHERE id = (SELECT min(id) FROM public.customers);`);
    const third = await openSnapshot(pg.conn, { tablePatterns: ['customers'] });
    const [c] = await third.countRows().finally(() => third.close());
    await pg.cluster.psql(`UPDATE public.customers SET name = left(name, -1) WHERE id = (SELECT min(id) FROM public.customers);`);
    expect(c?.rows).toBe(a?.rows);
    expect(c?.checksum).not.toBe(a?.checksum);

    await pg.cluster.psql('ANALYZE public.customers;');
    const big = await openSnapshot(pg.conn, { tablePatterns: ['customers'], exactLimitBytes: 0 });
    try {
      expect(await big.countRows()).toEqual([{ schema: 'public', name: 'customers', rows: a?.rows, estimate: true }]);
      // wal_level replica here: the snapshot lies between two LSNs, with the transactions it did not see.
      expect(big.instant).toEqual({ method: 'lsn-bounds', beforeLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), afterLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), xmax: expect.stringMatching(/^\d+$/), xip: [] });
    } finally {
      await big.close();
    }
  });

  it('counts the rows of its snapshot while another session inserts, and pg_dump --snapshot dumps that state', async () => {
    // Prepare
    const before = sampleRowCounts(ROWS);
    const session = await openSnapshot(pg.conn, { tablePatterns: ['customers', '"Sales".orders'] });
    try {
      // Act: rows committed after the snapshot must be invisible to both the counts and the dump.
      await pg.cluster.psql(`INSERT INTO public.customers (name, email) SELECT 'late', 'late' || i || '@x' FROM generate_series(1, 25) i;`);
      const counts = await session.countRows();
      const tool = spawnPgDump(pg.conn, { snapshotId: session.snapshotId, compression: 'gzip', tablePatterns: session.tables.map(exactTablePattern) });
      const dump = await readAll(tool.stdout);
      await tool.done;
      const freshTool = spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: ['customers'] });
      const fresh = await readAll(freshTool.stdout);
      // Assess
      expect(counts).toEqual([
        { schema: 'Sales', name: 'orders', rows: before.orders, checksum: expect.stringMatching(/^v1:-?[0-9a-f]+$/) },
        { schema: 'public', name: 'customers', rows: before.customers, checksum: expect.stringMatching(/^v1:-?[0-9a-f]+$/) },
      ]);
      expect(await dumpedRowCounts(dump)).toEqual({ '"Sales".orders': before.orders, 'public.customers': before.customers });
      expect(await dumpedRowCounts(fresh)).toEqual({ 'public.customers': before.customers + 25 });
    } finally {
      await session.close();
      await pg.cluster.psql(`DELETE FROM "Sales".orders WHERE customer_id IN (SELECT id FROM public.customers WHERE name = 'late'); DELETE FROM public.customers WHERE name = 'late';`);
    }
  });

  it.each([
    ['"Sales".*', ['Sales.orders']],
    ['Sales.*', 'none'],
    ['"MixedCase"', ['public.MixedCase']],
    ['MixedCase', 'none'],
    ['"a.b"', ['public.a.b']],
    ['postgres.public.cust*', ['public.customers']],
    ['events', ['public.events', 'public.events_2024_01', 'public.events_2024_02']],
    ['events_2024_0?', ['public.events_2024_01', 'public.events_2024_02']],
    ['orders', 'none'], // unqualified: only tables visible in search_path, as pg_dump does
    ['not_a_table', 'none'],
  ])('resolves %s', async (pattern, expected) => {
    // Act
    const result = openSnapshot(pg.conn, { tablePatterns: [pattern] });
    // Assess
    if (expected === 'none') {
      const error = await rejection(result);
      expect(error).toBeInstanceOf(InputError);
      expect(error.message).toContain(pattern);
      expect(error.hint).toContain('\\dt');
    } else {
      const session = await result;
      await session.close();
      expect(session.tables.map((t) => `${t.schema}.${t.name}`)).toEqual(expected);
    }
  });

  it('selects what pg_dump -t selects for the same patterns', async () => {
    // Prepare
    const patterns = ['"Sales".*', 'cust*', 'public.events_2024_0?', '"a.b"'];
    // Act
    const session = await openSnapshot(pg.conn, { tablePatterns: patterns });
    await session.close();
    const tool = spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: patterns });
    const dumped = await dumpedTableData(await readAll(tool.stdout));
    // Assess
    expect(dumped).toEqual(['"Sales".orders', 'public."a.b"', 'public.customers', 'public.events_2024_01', 'public.events_2024_02'].map((t) => t.replace(/"/g, '')).sort());
    expect(session.tables.map((t) => `${t.schema}.${t.name}`).sort()).toEqual(dumped);
  });

  it('gives the patterns pg_dump needs to dump a partitioned table\'s rows (PostgreSQL 15\'s -t parent dumps none)', async () => {
    // Prepare
    const session = await openSnapshot(pg.conn, { tablePatterns: ['events'] });
    await session.close();
    // Act
    const userPattern = spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: ['events'] });
    const exact = spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: session.tables.map(exactTablePattern) });
    const [withUserPattern, withExactPatterns] = await Promise.all([readAll(userPattern.stdout), readAll(exact.stdout)]);
    // Assess
    expect(await dumpedTableData(withUserPattern)).toEqual([]);
    expect(await dumpedTableData(withExactPatterns)).toEqual(['public.events_2024_01', 'public.events_2024_02']);
  });

  it('leaves partitioned parents out of the counts; their rows are in the partitions', async () => {
    // Prepare
    const session = await openSnapshot(pg.conn, { tablePatterns: ['public.events'] });
    // Act
    const counts = await session.countRows();
    await session.close();
    // Assess
    expect(counts.map((c) => c.name)).toEqual(['events_2024_01', 'events_2024_02']);
    expect(counts.reduce((sum, c) => sum + c.rows, 0)).toBe(sampleRowCounts(ROWS).events);
    await expect(session.countRows()).rejects.toThrow(/closed/);
  });

  it('names every pattern that matched nothing', async () => {
    // Act
    const error = await rejection(openSnapshot(pg.conn, { tablePatterns: ['customers', 'nope_one', 'x.nope_two'] }));
    // Assess
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain('"nope_one", "x.nope_two"');
    expect(error.message).not.toContain('"customers"');
  });

  it('refuses a pattern naming another database', async () => {
    // Act
    const error = await rejection(openSnapshot(pg.conn, { tablePatterns: ['otherdb.public.customers'] }));
    // Assess
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(/otherdb/);
  });

  it('logs in with a passfile, ignored when others can read it (as libpq does)', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'sbx-pass-'));
    const passfile = join(dir, 'pgpass');
    await writeFile(passfile, `127.0.0.1:${pg.conn.port}:*:postgres:${PASSWORD}\n`, { mode: 0o600 });
    const { password: _omitted, ...withoutPassword } = pg.conn;
    try {
      // Act
      const session = await openSnapshot({ ...withoutPassword, passfile });
      await session.close();
      // Assess
      expect(session.tables.length).toBeGreaterThan(0);
      await chmod(passfile, 0o644);
      const ignored = await rejection(openSnapshot({ ...withoutPassword, passfile }));
      expect(ignored.code).toBe('DB_AUTH_FAILED');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['a wrong password', () => ({ ...pg.conn, password: 'wrong' }), 'DB_AUTH_FAILED'],
    ['no password at all', () => ({ ...pg.conn, password: undefined }), 'DB_AUTH_FAILED'],
    ['an unknown user', () => ({ ...pg.conn, user: 'nobody' }), 'DB_AUTH_FAILED'],
    ['a closed port', () => ({ ...pg.conn, port: 1 }), 'DB_UNREACHABLE'],
    ['a missing database', () => ({ ...pg.conn, database: 'missing_db' }), 'DB_NOT_FOUND'],
  ])('maps %s to %s', async (_case, conn, code) => {
    // Act
    const error = await rejection(openSnapshot(conn()));
    // Assess
    expect(error).toBeInstanceOf(DatabaseConnectionError);
    expect(error.code).toBe(code);
    expect(error.hint.length).toBeGreaterThan(20);
    expect(error.message).not.toContain(PASSWORD);
  });
});
