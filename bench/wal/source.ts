/**
 * The WAL benchmark's source of real segments: a normal cluster (fsync on) that archives
 * nothing while it generates a backlog (`archive_mode = on` with an empty
 * `archive_command`: PostgreSQL keeps every finished segment and its `.ready`), the
 * segments copied aside once, and "fake data directories" that present them to an
 * archiver exactly as PostgreSQL would (pg_wal/, archive_status/*.ready, global/pg_control).
 */
import { chown, copyFile, link, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster, serverUserIds } from '../../shared/adapters/postgres/cluster';
import { isWalFileName } from '../../shared/domain/wal/names';

/** The load table: md5 text, as incompressible as bench:backup's dataset (pgbench's rows are not). */
export const LOAD_TABLE_SQL = 'CREATE TABLE IF NOT EXISTS load (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)';
/** One bulk INSERT of about 30 MB of WAL. */
export const BULK_INSERT_SQL = "INSERT INTO load (body) SELECT md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text) FROM generate_series(1, 100000)";

/** The source cluster and the copied segments. */
export interface WalSource {
  cluster: LocalCluster;
  /** Folder of the cluster (and of everything the benchmark creates for it); traversable by postgres. */
  root: string;
  /** The copied segments, oldest first (24-hex names). */
  segments: string[];
  segmentBytes: number;
  serverVersion: string;
  /** WAL rate of one bulk-INSERT session with archiving off (while generating the backlog), segments/s. */
  bulkSegmentsPerSecond: number;
  /** Stops the cluster and removes `root`. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates the cluster, writes bulk INSERTs until `count` segments are finished, and copies
 * the first `count` ones aside. Then it drops the backlog from pg_wal (archive_command
 * `true` for a moment), so that a later live phase starts with an empty queue.
 *
 * @throws StrongboxError LOCAL_CLUSTER_FAILED when the cluster or psql fails.
 */
export async function prepareWalSource(options: { count: number; progress: (line: string) => void }): Promise<WalSource> {
  const root = await mkdtemp(join(tmpdir(), 'strongbox-bench-wal-'));
  await chownToServer(root);
  let cluster: LocalCluster | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await cluster?.destroy().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    })());
  try {
    cluster = await LocalCluster.create({
      dataDir: join(root, 'data'),
      settings: { wal_level: 'replica', archive_mode: 'on', archive_command: '', max_wal_size: '4GB', checkpoint_timeout: '30min', max_wal_senders: '4' },
    });
    await cluster.psql(`${LOAD_TABLE_SQL};`);
    const started = Date.now();
    let ready: string[] = [];
    while ((ready = await readyNames(cluster.dataDir)).length < options.count) await cluster.psql(`${BULK_INSERT_SQL};`);
    const seconds = (Date.now() - started) / 1000;
    options.progress(`generated ${ready.length} segments with bulk INSERTs in ${seconds.toFixed(1)} s`);
    const segments = ready.slice(0, options.count);
    const store = join(root, 'segments');
    await mkdir(store);
    for (const name of segments) await copyFile(join(cluster.dataDir, 'pg_wal', name), join(store, name));
    await copyFile(join(cluster.dataDir, 'global', 'pg_control'), join(root, 'pg_control'));
    await chownAll([store, ...segments.map((name) => join(store, name)), join(root, 'pg_control')]);
    await drainBacklog(cluster);
    const [version = '', size = ''] = (await cluster.psql("SELECT current_setting('server_version'), pg_size_bytes(current_setting('wal_segment_size'));")).trim().split('|');
    return { cluster, root, segments, segmentBytes: Number(size), serverVersion: version, bulkSegmentsPerSecond: ready.length / seconds, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Names of the `.ready` segments of a data directory, oldest first. */
async function readyNames(dataDir: string): Promise<string[]> {
  const entries = await readdir(join(dataDir, 'pg_wal', 'archive_status'));
  return entries
    .filter((entry) => entry.endsWith('.ready'))
    .map((entry) => entry.slice(0, -'.ready'.length))
    .filter((name) => /^[0-9A-F]{24}$/.test(name) && isWalFileName(name))
    .sort();
}

async function drainBacklog(cluster: LocalCluster): Promise<void> {
  await cluster.psql("ALTER SYSTEM SET archive_command = 'true'; SELECT pg_reload_conf();");
  const deadline = Date.now() + 120_000;
  while ((await readyNames(cluster.dataDir)).length > 0) {
    if (Date.now() > deadline) throw new Error('the source cluster did not drop its backlog within 2 minutes');
    await sleep(200);
  }
  await cluster.psql("ALTER SYSTEM SET archive_command = ''; SELECT pg_reload_conf(); CHECKPOINT;");
}

/** A data directory as an archiver sees it: `cwd` for the command, `pg_wal/<name>` as `%p`. */
export interface FakeDataDir {
  dir: string;
  /** Marks `name` archived as PostgreSQL does (`.ready` → `.done`). */
  markDone(name: string): Promise<void>;
}

/**
 * Lays out `dir` with every segment hard-linked (same bytes, same page cache for every
 * archiver, no copy on the clock) and `.ready`, plus global/pg_control (pgBackRest reads
 * it), all owned by the server's OS user. `dir` must not exist.
 */
export async function makeFakeDataDir(source: WalSource, dir: string): Promise<FakeDataDir> {
  const status = join(dir, 'pg_wal', 'archive_status');
  await mkdir(status, { recursive: true });
  await mkdir(join(dir, 'global'));
  await copyFile(join(source.root, 'pg_control'), join(dir, 'global', 'pg_control'));
  for (const name of source.segments) {
    await link(join(source.root, 'segments', name), join(dir, 'pg_wal', name));
    await writeFile(join(status, `${name}.ready`), '');
  }
  await chownAll([dir, join(dir, 'pg_wal'), status, join(dir, 'global'), join(dir, 'global', 'pg_control'), ...source.segments.map((n) => join(status, `${n}.ready`))]);
  return {
    dir,
    async markDone(name) {
      await rename(join(status, `${name}.ready`), join(status, `${name}.done`));
    },
  };
}

/** Gives a path to the server's OS user when this process is root. */
export async function chownToServer(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = await serverUserIds();
  await chown(path, uid, gid);
}

async function chownAll(paths: string[]): Promise<void> {
  for (const path of paths) await chownToServer(path);
}
