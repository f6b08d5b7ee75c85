/**
 * Strongbox's WAL archiving wired as `npm start` wires it: a home, the archive endpoint on
 * 127.0.0.1 (bytes mode over the repository folder, presign mode over an S3-compatible
 * bucket), the local ObjectCreated delivery that indexes records into the catalog, and per
 * database the host side PostgreSQL runs (dist/wal.js, wal.json, the wal-push script, the
 * spool). One database per measured pass, so every pass starts with an empty archive.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../../shared/ports/catalog';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import type { Storage } from '../../shared/ports/storage';
import type { StorageConfig } from '../../shared/config';
import type { WalCompression } from '../../shared/domain/wal/keys';
import { startLocalArchiving } from '../../shared/local/archiving';
import type { LocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import { deliverObjectEvents, SERVER_WAL_INDEX_WINDOW } from '../../shared/local/object-events';
import type { WalHostPaths } from '../../shared/local/wal-paths';
import type { Log } from '../../shared/ports';

/** A running Strongbox archiving setup for a fixed list of databases. */
export interface StrongboxArchiving {
  /** `'<home>/wal/<database>/wal-push' %p` */
  archiveCommand(database: string): string;
  /** `'<home>/wal/<database>/wal-fetch' %f %p` */
  restoreCommand(database: string): string;
  /** Stops the database's prefetcher (by the pid in its spool), waits for it, and empties its inbox. */
  stopPrefetcher(database: string): Promise<void>;
  /** Sets a database's compression in its wal.json (wal-push reads it at every start). */
  setCompression(database: string, compression: WalCompression): Promise<void>;
  /** Bytes stored under `wal/<database>/`, records and identity excluded. */
  storedBytes(database: string): Promise<number>;
  /** Stops the database's background uploader (by the pid in its spool) and waits for it. */
  stopUploader(database: string): Promise<void>;
  /** The text of the database's uploader log (its `archived ahead` lines carry the push's split). */
  uploaderLog(database: string): Promise<string>;
  /**
   * Waits until the asynchronous checks of the records written so far have run (presign
   * mode's deferred decode, as S3's event runs it in AWS, after `complete` answered) and
   * says what they cost since the last call: outside the pass's time, as pgBackRest's
   * `waitIdle` is.
   */
  settle(): Promise<{ ran: number; busyMs: number }>;
  /** Resolves once every WAL record stored so far is in the catalog (indexed in batches, as `npm start` does). */
  indexed(): Promise<void>;
  /** Holds the deferred checks until `settle` (in AWS they are the catalogIndex Lambda's CPU, not the database host's). */
  holdChecks(): void;
  /** Stops every uploader and the endpoint. */
  stop(): Promise<void>;
}

/** Where the archive lives and the catalog it indexes into. */
export interface StrongboxArchivingOptions {
  /** Folder for the home; PostgreSQL's OS user must be able to traverse it. */
  root: string;
  databases: readonly string[];
  storage: Storage;
  storageConfig: StorageConfig;
  catalog: Catalog;
  walCatalog: WalCatalog;
  catalogEndpoint: string;
  log: Log;
}

/**
 * Starts the endpoint and writes every database's host side (compression zstd, the
 * uploader's idle exit shortened to 3 s so that it does not outlive its pass).
 *
 * @throws StrongboxError WAL_BUNDLE_MISSING when dist/wal.js was not built.
 */
export async function startStrongboxArchiving(options: StrongboxArchivingOptions): Promise<StrongboxArchiving> {
  const paths = resolveHome({ STRONGBOX_HOME: join(options.root, 'home') }, options.root);
  const alerts = new ConsoleAlertPublisher(() => undefined);
  const clock = () => new Date();
  const { storage, catalog, walCatalog, log } = options;
  // Asynchronous checks off `complete`'s path, as S3's event is in AWS (docs/wal.md, "Presign mode").
  // WAL records indexed in batches after the push answered, as `npm start` does (docs/wal.md, "Indexing").
  const events = deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock }, { deferChecks: true, walIndexWindow: SERVER_WAL_INDEX_WINDOW });
  let settled = { ran: 0, busyMs: 0 };
  const context: LocalContext = { storage, catalog, walCatalog, alerts, log, clock, paths, catalogEndpoint: options.catalogEndpoint, ownsCatalog: false, close: async () => {} };
  const archiving = await startLocalArchiving({ context, storage: options.storageConfig, env: process.env, databases: options.databases, bundle: resolve('dist/wal.js') });
  const host = (database: string): WalHostPaths => {
    const found = archiving.hosts.get(database);
    if (!found) throw new Error(`no Strongbox host side for ${database}`);
    return found;
  };
  const patch = async (database: string, change: (config: Record<string, unknown>) => void) => {
    const file = host(database).config;
    const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    change(config);
    await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  };
  for (const database of options.databases) await patch(database, (config) => void (config.uploader = { idleExitMs: 3000 }));
  const stopBackground = async (database: string, role: 'uploader' | 'prefetcher') => {
    const pid = Number((await readFile(join(host(database).spool, `${role}.pid`), 'utf8').catch(() => '')).trim().split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 1 || !(await isBackground(pid, role))) return;
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; waited < 10_000 && (await isBackground(pid, role)); waited += 50) await sleep(50);
  };
  const stopUploader = (database: string) => stopBackground(database, 'uploader');
  return {
    archiveCommand: (database) => host(database).archiveCommand,
    uploaderLog: (database) => readFile(join(host(database).spool, 'uploader.log'), 'utf8').catch(() => ''),
    restoreCommand: (database) => host(database).restoreCommand,
    async stopPrefetcher(database) {
      await stopBackground(database, 'prefetcher');
      await rm(join(host(database).spool, 'in'), { recursive: true, force: true });
    },
    setCompression: (database, compression) => patch(database, (config) => void (config.compression = compression)),
    async storedBytes(database) {
      let bytes = 0;
      for await (const object of storage.list(`wal/${database}/`)) if (!object.key.endsWith('.json')) bytes += object.size;
      return bytes;
    },
    stopUploader,
    holdChecks: () => events.hold(),
    indexed: () => events.indexed(),
    async settle() {
      events.release();
      await events.idle();
      const now = events.stats();
      const since = { ran: now.ran - settled.ran, busyMs: now.busyMs - settled.busyMs };
      settled = now;
      return since;
    },
    async stop() {
      for (const database of options.databases) {
        await stopUploader(database).catch(() => undefined);
        await stopBackground(database, 'prefetcher').catch(() => undefined);
      }
      await archiving.stop();
    },
  };
}

/** True when `pid` is alive and is a Strongbox uploader / prefetcher (not a recycled pid of something else). */
async function isBackground(pid: number, role: 'uploader' | 'prefetcher'): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // A zombie (state Z) has exited: its parent, not us, reaps it.
  return cmdline.includes(role) && !/\) Z /.test(state);
}
