/**
 * Everything WAL archiving needs, for real, on 127.0.0.1: a home (as `npm start` lays it
 * out), dynalite with both catalogs, the repository folder with the local ObjectCreated
 * delivery, the archive endpoint with its token, the host side (dist/wal.js, wal.json,
 * wal-push / wal-fetch scripts, spool) and a PostgreSQL cluster whose archive_command is
 * Strongbox's wal-push. The endpoint can be stopped and restarted on the same port.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { pgBaseBackupTools } from '../../shared/adapters/postgres/basebackup';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { BackupEntry } from '../../shared/domain/backup';
import { startLocalArchiving, type LocalArchiving } from '../../shared/local/archiving';
import { LOCAL_TABLE, localCatalog, localWalCatalog, type LocalContext } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { resolveHome, type HomePaths } from '../../shared/local/home';
import { deliverObjectEvents } from '../../shared/local/object-events';
import type { WalHostPaths } from '../../shared/local/wal-paths';
import { runBaseBackup } from '../../shared/usecases/base-backup';
import { startTestCluster, type TestCluster } from './pg';
import { captureLog, type CapturedLog } from './stack';

export const WAL_DATABASE = 'app';

export interface WalStack {
  paths: HomePaths;
  storage: FolderStorage;
  catalog: Catalog;
  walCatalog: WalCatalog;
  alerts: ConsoleAlertPublisher;
  log: CapturedLog;
  context: LocalContext;
  pg: TestCluster;
  host: WalHostPaths;
  endpointUrl(): string;
  /** Stops the archive endpoint (archiving and fetching then fail, as with an outage). */
  stopEndpoint(): Promise<void>;
  /** Starts it again on the same port. */
  startEndpoint(): Promise<void>;
  baseBackup(): Promise<BackupEntry>;
  /** Switches WAL and waits until PostgreSQL says the switched segment is archived and the catalog has it; returns its name. */
  switchAndWait(timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the stack (~4 s). The cluster archives with archive_timeout 60 s and fsync off. */
export async function startWalStack(options: { settings?: Record<string, string>; binDir?: string } = {}): Promise<WalStack> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const root = await mkdtemp(join(tmpdir(), 'sbx-wal-'));
    // PostgreSQL's OS user must reach the scripts, the bundle and the token under the home.
    await chmod(root, 0o755);
    stops.push(() => rm(root, { recursive: true, force: true }));
    const paths = resolveHome({ STRONGBOX_HOME: join(root, 'home') }, root);
    const dynalite = await startDynalite();
    stops.push(dynalite.stop);
    await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
    const storage = new FolderStorage(paths.repository);
    const catalog = localCatalog(dynalite.endpoint);
    const walCatalog = localWalCatalog(dynalite.endpoint);
    const alerts = new ConsoleAlertPublisher(() => undefined);
    const log = captureLog();
    const clock = () => new Date();
    deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
    const context: LocalContext = { storage, catalog, walCatalog, alerts, log, clock, paths, catalogEndpoint: dynalite.endpoint, ownsCatalog: true, close: async () => {} };
    const startArchiving = () => startLocalArchiving({ context, storage: { type: 'folder' }, env: {}, databases: [WAL_DATABASE], bundle: resolve('dist/wal.js') });
    let archiving: LocalArchiving | undefined = await startArchiving();
    stops.push(async () => archiving?.stop());
    const host = archiving.hosts.get(WAL_DATABASE)!;
    const endpointUrl = archiving.endpointUrl;
    const pg = await startTestCluster({
      settings: { archive_mode: 'on', archive_command: host.archiveCommand, archive_timeout: '60s', wal_level: 'replica', ...options.settings },
      ...(options.binDir ? { binDir: options.binDir } : {}),
    });
    stops.push(pg.stop);
    stops.reverse();

    const stack: WalStack = {
      paths,
      storage,
      catalog,
      walCatalog,
      alerts,
      log,
      context,
      pg,
      host,
      endpointUrl: () => endpointUrl,
      async stopEndpoint() {
        await archiving?.stop();
        archiving = undefined;
      },
      async startEndpoint() {
        archiving = await startArchiving();
        if (archiving.endpointUrl !== endpointUrl) throw new Error(`the endpoint came back on ${archiving.endpointUrl}, not ${endpointUrl}`);
      },
      baseBackup: () =>
        runBaseBackup(
          { storage, catalog, alerts, log, clock, tools: pgBaseBackupTools, version: 'test', heartbeatMs: 1000 },
          { database: WAL_DATABASE, connection: pg.conn, tier: 'daily', compression: 'zstd', runner: `pid:${process.pid}` },
        ),
      async switchAndWait(timeoutMs = 60_000) {
        const name = (await pg.cluster.psql('SELECT pg_walfile_name(pg_catalog.pg_switch_wal());')).trim();
        const deadline = Date.now() + timeoutMs;
        // PostgreSQL acknowledges in order (the uploader may store later segments first): wait for its word, then the index.
        while ((await pg.cluster.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver;")).trim() < name) {
          if (Date.now() > deadline) throw new Error(`PostgreSQL did not archive ${name} within ${timeoutMs} ms`);
          await sleep(100);
        }
        while (!(await walCatalog.getWal(WAL_DATABASE, name))) {
          if (Date.now() > deadline) throw new Error(`segment ${name} was not archived within ${timeoutMs} ms`);
          await sleep(100);
        }
        return name;
      },
      async stop() {
        for (const stop of stops) await stop().catch(() => undefined);
      },
    };
    return stack;
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}
