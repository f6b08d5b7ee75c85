import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDynamoClient, makeDynamoDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { currentWal, pgWalServer } from '../../shared/adapters/postgres/wal-server';
import { parseLsn } from '../../shared/domain/wal/names';
import type { StrongboxError } from '../../shared/errors';
import { LOCAL_TABLE } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { assertRestorePointName, createNamedRestorePoint, type RestorePointDeps } from '../../shared/usecases/restore-point';
import { startArchivingCluster, type ArchivingCluster } from '../support/archiving-cluster';
import { captureLog, type CapturedLog } from '../support/stack';

let pg: ArchivingCluster;
let walCatalog: WalCatalog;
let stopCatalog: () => Promise<void>;

beforeAll(async () => {
  const [cluster, dynalite] = await Promise.all([startArchivingCluster({ mode: 'copy' }), startDynalite({})]);
  pg = cluster;
  stopCatalog = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  walCatalog = new DynamoWalCatalog(makeDynamoDocumentClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  await pg.cluster.psql('CREATE ROLE weak LOGIN;');
});

afterAll(async () => {
  await Promise.all([pg?.stop(), stopCatalog?.()]);
});

function deps(log: CapturedLog = captureLog()): RestorePointDeps {
  return { walCatalog, server: pgWalServer, clock: () => new Date('2026-11-24T10:00:00Z'), log };
}

async function rejection(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a rejection');
}

describe('createNamedRestorePoint', () => {
  it('creates the point on the server, records it in the catalog and logs it', async () => {
    // Prepare
    const before = await currentWal(pg.conn);
    const log = captureLog();

    // Act
    const point = await createNamedRestorePoint(deps(log), { database: 'app', connection: pg.conn, name: "before 'migration' 42; DROP TABLE x" });

    // Assess
    expect(point).toMatchObject({ name: "before 'migration' 42; DROP TABLE x", timeline: 1, createdAt: '2026-11-24T10:00:00.000Z' });
    expect(parseLsn(point.lsn) > parseLsn(before.lsn)).toBe(true);
    expect(await walCatalog.getRestorePoint('app', point.name)).toEqual(point);
    expect(log.lines).toContainEqual({ level: 'INFO', message: 'restore point created', attributes: { database: 'app', name: point.name, lsn: point.lsn, timeline: 1 } });
  });

  it('refuses a name already recorded for the database, and leaves the first one as it was', async () => {
    const first = await createNamedRestorePoint(deps(), { database: 'app', connection: pg.conn, name: 'release-3.1' });
    const created: string[] = [];
    const counting: RestorePointDeps = {
      ...deps(),
      server: { createRestorePoint: (conn, name) => (created.push(name), pgWalServer.createRestorePoint(conn, name)) },
    };

    const error = await rejection(createNamedRestorePoint(counting, { database: 'app', connection: pg.conn, name: 'release-3.1' }));

    expect(error.code).toBe('RESTORE_POINT_EXISTS');
    expect(error.message).toContain(first.lsn);
    expect(error.hint).toMatch(/another name/);
    expect(await walCatalog.getRestorePoint('app', 'release-3.1')).toEqual(first);
    // The server was not asked for a second point of that name.
    expect(created).toEqual([]);
  });

  it('the same name on another database is a different point', async () => {
    await createNamedRestorePoint(deps(), { database: 'app', connection: pg.conn, name: 'shared-name' });
    const other = await createNamedRestorePoint(deps(), { database: 'billing', connection: pg.conn, name: 'shared-name' });
    expect(await walCatalog.getRestorePoint('billing', 'shared-name')).toEqual(other);
  });

  it('a role without EXECUTE on pg_create_restore_point: DB_PERMISSION_DENIED and nothing recorded', async () => {
    const error = await rejection(createNamedRestorePoint(deps(), { database: 'app', connection: { ...pg.conn, user: 'weak' }, name: 'not-allowed' }));
    expect(error.code).toBe('DB_PERMISSION_DENIED');
    expect(await walCatalog.getRestorePoint('app', 'not-allowed')).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['x'.repeat(64), /64 bytes, over 63/],
    ['é'.repeat(32), /64 bytes, over 63/],
    ['tab\there', /control character/],
    [' padded', /space/],
  ])('refuses the name %j before touching the server', async (name, why) => {
    const error = await rejection(createNamedRestorePoint(deps(), { database: 'app', connection: { ...pg.conn, port: 1 }, name }));
    expect(error.code).toBe('INPUT_INVALID');
    expect(error.message).toMatch(why);
  });

  it('accepts a name of exactly 63 bytes', () => {
    expect(() => assertRestorePointName('é'.repeat(31) + 'x')).not.toThrow();
  });
});
