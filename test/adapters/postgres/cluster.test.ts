import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { LocalCluster } from '../../../shared/adapters/postgres/cluster';
import { seedSampleData, sampleRowCounts } from '../../../shared/adapters/postgres/sample-data';
import { openSnapshot } from '../../../shared/adapters/postgres/snapshot';
import { StrongboxError } from '../../../shared/errors';
import { startTestCluster } from '../../support/pg';
import type { TestCluster } from '../../support/pg';

let pg: TestCluster;
let scratch: string;

beforeAll(async () => {
  pg = await startTestCluster();
  scratch = await mkdtemp(join(tmpdir(), 'sbx-cluster-'));
  await chmod(scratch, 0o755);
});

afterAll(async () => {
  await pg?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('LocalCluster', () => {
  it('listens on 127.0.0.1 only and trusts TCP logins there when created without a password', async () => {
    // Act
    const settings = await pg.cluster.psql("SELECT current_setting('listen_addresses'), current_setting('fsync'), current_setting('server_encoding'), inet_server_addr();");
    // Assess
    expect(settings.trim()).toBe('127.0.0.1|off|UTF8|127.0.0.1');
    expect(pg.conn).toEqual({ host: '127.0.0.1', port: pg.conn.port, user: 'postgres', database: 'postgres' });
  });

  it('stops, reports it, and starts again; open() finds the same port', async () => {
    // Act
    await pg.cluster.stop();
    const runningAfterStop = await pg.cluster.isRunning();
    const reopened = await LocalCluster.open(pg.cluster.dataDir);
    await reopened.start();
    // Assess
    expect(runningAfterStop).toBe(false);
    expect(await pg.cluster.isRunning()).toBe(true);
    expect(reopened.connection()).toEqual(pg.conn);
    expect((await reopened.psql('SELECT 42;')).trim()).toBe('42');
  });

  it('creates databases with mixed-case names and runs SQL in them', async () => {
    // Act
    await pg.cluster.createDatabase('Shop Demo');
    await pg.cluster.psql('CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);', 'Shop Demo');
    const rows = await pg.cluster.psql('SELECT count(*) FROM t;', 'Shop Demo');
    // Assess
    expect(rows.trim()).toBe('2');
  });

  it('reports failing SQL as a StrongboxError with the server message', async () => {
    // Act / Assess
    await expect(pg.cluster.psql('SELECT * FROM no_such_table;')).rejects.toThrow(/no_such_table.*does not exist/s);
    await expect(pg.cluster.psql('SELECT 1/0;')).rejects.toBeInstanceOf(StrongboxError);
  });

  it('refuses a data folder that is not empty', async () => {
    // Prepare
    const dataDir = join(scratch, 'busy');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'something'), 'x');
    // Act
    const error = await LocalCluster.create({ dataDir, fastTestMode: true }).catch((e: unknown) => e as StrongboxError);
    // Assess
    expect(error).toBeInstanceOf(StrongboxError);
    expect((error as StrongboxError).code).toBe('LOCAL_CLUSTER_FAILED');
    expect((error as StrongboxError).hint).toMatch(/empty folder/);
  });

  it('refuses to open a folder without a cluster', async () => {
    // Act / Assess
    await expect(LocalCluster.open(join(scratch, 'nothing'))).rejects.toThrow(/no cluster created by Strongbox/);
  });

  it('applies settings, requires the password when given, and destroy() removes everything', async () => {
    // Prepare
    const dataDir = join(scratch, 'with-password');
    const cluster = await LocalCluster.create({ dataDir, fastTestMode: true, superuserPassword: "it's s3cret", settings: { work_mem: '7MB' } });
    try {
      // Act
      const workMem = await cluster.psql('SHOW work_mem;');
      const refused = await openSnapshot({ ...cluster.connection(), password: 'wrong' }).then(
        () => undefined,
        (e: unknown) => e as StrongboxError,
      );
      // Assess
      expect(workMem.trim()).toBe('7MB');
      expect(refused?.code).toBe('DB_AUTH_FAILED');
    } finally {
      await cluster.destroy();
    }
    expect(existsSync(dataDir)).toBe(false);
    expect(await cluster.isRunning()).toBe(false);
  });
});

describe('seedSampleData', () => {
  it('builds the demo database once, however often it runs', async () => {
    // Prepare
    await pg.cluster.createDatabase('demo');
    const conn = pg.cluster.connection('demo');
    // Act
    await Promise.all([seedSampleData(conn, { rows: 100 }), seedSampleData(conn, { rows: 100 })]);
    await seedSampleData(conn, { rows: 100 });
    const session = await openSnapshot(conn);
    const counts = await session.countRows();
    await session.close();
    const objects = await pg.cluster.psql(
      `SELECT (SELECT count(*) FROM pg_type WHERE typname = 'order_status'),
              (SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relname = 'invoice_number'),
              (SELECT count(*) FROM pg_views WHERE schemaname = 'Sales'),
              (SELECT count(*) FROM "Sales".orders o JOIN public.customers c ON c.id = o.customer_id);`,
      'demo',
    );
    // Assess
    const expected = sampleRowCounts(100);
    // Each count also carries its content checksum (compared by the physical drill).
    expect(counts).toHaveLength(4);
    expect(counts).toMatchObject([
      { schema: 'Sales', name: 'orders', rows: expected.orders },
      { schema: 'public', name: 'customers', rows: expected.customers },
      { schema: 'public', name: 'events_2024_01', rows: counts[2]?.rows },
      { schema: 'public', name: 'events_2024_02', rows: expected.events - (counts[2]?.rows ?? 0) },
    ]);
    expect(objects.trim()).toBe(`1|1|1|${expected.orders}`);
  });
});
