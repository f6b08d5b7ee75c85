/**
 * The local stack for integration tests: a real PostgreSQL (with a password), a real
 * DynamoDB-compatible catalog (dynalite on 127.0.0.1), real storage (a repository
 * folder, or s3rver through the real S3 SDK), the local ObjectCreated delivery to the
 * real handlers, and alerts captured for assertions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoCatalog } from '../../shared/adapters/catalog/dynamo';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import type { PgConnection } from '../../shared/ports/postgres';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { S3Storage } from '../../shared/adapters/storage/s3';
import type { Storage } from '../../shared/ports/storage';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../../shared/local/context';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { deliverObjectEvents } from '../../shared/local/object-events';
import type { Log } from '../../shared/ports';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import type { BackupDeps } from '../../shared/usecases/backup';
import { startTestCluster, type TestCluster } from './pg';
import { startS3Server } from './s3-server';

export const TEST_PASSWORD = 'test-Secret-42';

/** Captured log lines, for asserting what a decision logged. */
export interface CapturedLog extends Log {
  lines: Array<{ level: string; message: string; attributes?: Record<string, unknown> }>;
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const at = (level: string) => (message: string, attributes?: Record<string, unknown>) => void lines.push({ level, message, ...(attributes ? { attributes } : {}) });
  return { lines, info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

export interface Stack {
  pg: TestCluster;
  /** The sample database, with the password (as DATABASE_URL would carry it). */
  conn: PgConnection;
  storage: Storage;
  catalog: Catalog;
  walCatalog: WalCatalog;
  catalogEndpoint: string;
  alerts: ConsoleAlertPublisher;
  log: CapturedLog;
  deps: BackupDeps;
  /** Where the storage is, for a process of its own (a dump task): the folder, or s3rver's endpoint and bucket. */
  place: { type: 'folder'; path: string } | { type: 's3'; endpoint: string; bucket: string };
  /** A new storage over the same place without event delivery (for corrupting or reading). */
  rawStorage(): Storage;
  /** A fresh, empty catalog table on the same server (for rebuild tests). */
  freshCatalog(table: string): Promise<Catalog>;
  stop(): Promise<void>;
}

/** Starts the whole local stack; `storage: 's3'` puts backups in s3rver. */
export async function startStack(options: { storage: 'folder' | 's3'; rows?: number } = { storage: 'folder' }): Promise<Stack> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const pg = await startTestCluster({ password: TEST_PASSWORD });
    stops.push(pg.stop);
    await pg.cluster.createDatabase('app');
    const conn = pg.cluster.connection('app');
    await seedSampleData(conn, { rows: options.rows ?? 500 });

    const dynalite = await startDynalite({});
    stops.push(dynalite.stop);
    const dynamo = makeDynamoClient({ endpoint: dynalite.endpoint });
    await ensureCatalogTable(dynamo, LOCAL_TABLE);
    const catalog = localCatalog(dynalite.endpoint);
    const walCatalog = localWalCatalog(dynalite.endpoint);

    let rawStorage: () => Storage;
    let place: Stack['place'];
    if (options.storage === 's3') {
      const s3 = await startS3Server();
      stops.push(s3.stop);
      place = { type: 's3', endpoint: s3.endpoint, bucket: s3.bucket };
      rawStorage = () => new S3Storage(s3.client, s3.bucket, { partSizeBytes: 5 * 1024 * 1024 });
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'sbx-repo-'));
      stops.push(() => rm(dir, { recursive: true, force: true }));
      place = { type: 'folder', path: dir };
      rawStorage = () => new FolderStorage(dir);
    }
    const storage = rawStorage();
    const alerts = new ConsoleAlertPublisher(() => undefined);
    const log = captureLog();
    const clock = () => new Date();
    deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
    const deps: BackupDeps = { storage, catalog, alerts, log, clock, tools: pgDumpTools, version: 'test', heartbeatMs: 200, staleAfterMs: 60_000 };
    return {
      pg,
      conn,
      storage,
      catalog,
      walCatalog,
      catalogEndpoint: dynalite.endpoint,
      alerts,
      log,
      deps,
      place,
      rawStorage,
      async freshCatalog(table) {
        await ensureCatalogTable(dynamo, table);
        return new DynamoCatalog(toDocumentClient(dynamo), table);
      },
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

/** Every key under a prefix. */
export async function keysUnder(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix)) keys.push(object.key);
  return keys;
}
