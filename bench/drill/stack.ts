/**
 * What bench:drill runs on, all on 127.0.0.1: a home as `npm start` lays it out, dynalite with
 * both catalogs, the repository folder with the local ObjectCreated delivery, the archive
 * endpoint and host scripts (dist/wal.js), and a PostgreSQL cluster (wal_level logical) whose
 * archive_command is Strongbox's wal-push followed by a plain `cp` into a folder — the same WAL,
 * for the plain baseline's restore_command.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { LocalCluster } from '../../shared/adapters/postgres/cluster';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { startLocalArchiving } from '../../shared/local/archiving';
import { LOCAL_TABLE, localCatalog, localWalCatalog, type LocalContext } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { resolveHome } from '../../shared/local/home';
import { deliverObjectEvents } from '../../shared/local/object-events';
import type { Log } from '../../shared/ports';
import { chownToServer } from '../wal/source';

export const BENCH_DATABASE = 'bench';

export interface DrillStack {
  context: LocalContext;
  cluster: LocalCluster;
  restoreCommand: string;
  /** The WAL host's spool (the prefetcher's inbox is under it). */
  spool: string;
  /** The folder the plain copy of every archived segment goes to. */
  plainArchive: string;
  /** Switches WAL and waits until the catalog has the switched segment. */
  switchAndWait(): Promise<string>;
}

/** Starts the stack under `work` (a folder the server's OS user can traverse); stops go in `cleanups`. */
export async function startDrillStack(work: string, cleanups: Array<() => Promise<void>>): Promise<DrillStack> {
  const paths = resolveHome({ STRONGBOX_HOME: join(work, 'home') }, work);
  const dynalite = await startDynalite();
  cleanups.push(dynalite.stop);
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  const storage = new FolderStorage(paths.repository);
  const catalog = localCatalog(dynalite.endpoint);
  const walCatalog = localWalCatalog(dynalite.endpoint);
  const alerts = new ConsoleAlertPublisher();
  const print = (level: string) => (message: string, attributes?: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  const log: Log = { info: () => undefined, warn: print('WARN'), error: print('ERROR') };
  const clock = () => new Date();
  deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
  const context: LocalContext = { storage, catalog, walCatalog, alerts, log, clock, paths, catalogEndpoint: dynalite.endpoint, ownsCatalog: true, close: async () => {} };
  const archiving = await startLocalArchiving({ context, storage: { type: 'folder' }, env: {}, databases: [BENCH_DATABASE], bundle: resolve('dist/wal.js') });
  cleanups.push(archiving.stop);
  const host = archiving.hosts.get(BENCH_DATABASE)!;
  const plainArchive = join(work, 'plain-archive');
  await mkdir(plainArchive);
  await chmod(plainArchive, 0o755);
  await chownToServer(plainArchive);
  const cluster = await LocalCluster.create({
    dataDir: join(work, 'primary'),
    fastTestMode: true,
    settings: {
      wal_level: 'logical',
      max_wal_size: '1GB',
      archive_mode: 'on',
      archive_command: `${host.archiveCommand} && cp %p ${plainArchive}/%f`,
      archive_timeout: '60s',
    },
  });
  cleanups.push(() => cluster.destroy());
  return {
    context,
    cluster,
    restoreCommand: host.restoreCommand,
    spool: host.spool,
    plainArchive,
    async switchAndWait() {
      const name = (await cluster.psql('SELECT pg_walfile_name(pg_catalog.pg_switch_wal());')).trim();
      const deadline = Date.now() + 600_000;
      while (!(await walCatalog.getWal(BENCH_DATABASE, name))) {
        if (Date.now() > deadline) throw new Error(`segment ${name} was not archived within 10 minutes`);
        await sleep(200);
      }
      return name;
    },
  };
}
