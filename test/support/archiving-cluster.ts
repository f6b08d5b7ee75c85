/**
 * A test cluster with WAL archiving on: its archive_command copies each file into a folder
 * the test can read (`copy`), or always fails (`fail`: /bin/false, as a broken wal-push would).
 */
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { parseWalName } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { startTestCluster, type TestCluster } from './pg';

export interface ArchivingCluster extends TestCluster {
  /** Where `copy` mode puts archived files (empty in `fail` mode). */
  archiveDir: string;
  /** The names in archiveDir, sorted. */
  archived(): Promise<string[]>;
  /** Waits until `name` is in archiveDir; throws after `timeoutMs`. */
  waitArchived(name: string, timeoutMs?: number): Promise<void>;
}

/** Starts a cluster with archive_mode = on; extra `settings` override the defaults. */
export async function startArchivingCluster(options: { mode: 'copy' | 'fail'; password?: string; settings?: Record<string, string> }): Promise<ArchivingCluster> {
  const archiveDir = await mkdtemp(join(tmpdir(), 'sbx-archive-'));
  // The archiver runs as the postgres OS user: it must write here.
  await chmod(archiveDir, 0o777);
  const command = options.mode === 'copy' ? `test ! -f '${archiveDir}/%f' && cp %p '${archiveDir}/%f'` : '/bin/false';
  let pg: TestCluster;
  try {
    pg = await startTestCluster({
      ...(options.password ? { password: options.password } : {}),
      settings: { wal_level: 'replica', archive_mode: 'on', archive_command: command, ...options.settings },
    });
  } catch (error) {
    await rm(archiveDir, { recursive: true, force: true });
    throw error;
  }
  const archived = async () => (await readdir(archiveDir)).sort();
  return {
    ...pg,
    archiveDir,
    archived,
    async waitArchived(name, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await archived()).includes(name)) {
        if (Date.now() > deadline) throw new Error(`${name} was not archived within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    stop: () => pg.stop().finally(() => rm(archiveDir, { recursive: true, force: true })),
  };
}

/** A segment's record as wal-push would have it indexed (fake hashes: the gap check reads names only). */
export function segmentRecord(database: string, name: string, archivedAt = new Date().toISOString()): WalRecord {
  const parsed = parseWalName(name);
  return {
    format: WAL_RECORD_FORMAT,
    database,
    name,
    kind: 'segment',
    timeline: parsed.timeline,
    segno: parsed.segno!.toString(),
    objectKey: walObjectKey(database, name, 'none'),
    compression: 'none',
    size: 16 * 1024 * 1024,
    sha256: 'a'.repeat(64),
    storedSize: 16 * 1024 * 1024,
    storedSha256: 'a'.repeat(64),
    archivedAt,
  };
}

/**
 * Indexes what the copy archive_command archives into `walCatalog` for `database`, as the
 * endpoint and the catalog-index function would, except the names in `omit` (a hole made
 * on purpose). Returns a stop function that indexes once more before stopping.
 */
export function startIndexer(cluster: ArchivingCluster, walCatalog: WalCatalog, database: string, omit: ReadonlySet<string> = new Set()): () => Promise<void> {
  const done = new Set<string>();
  const pass = async () => {
    for (const name of await cluster.archived()) {
      if (!/^[0-9A-F]{24}$/.test(name) || omit.has(name) || done.has(name)) continue;
      await walCatalog.recordWal(segmentRecord(database, name), new Date().toISOString());
      done.add(name);
    }
  };
  let running = pass();
  const timer = setInterval(() => {
    running = running.then(pass, pass);
  }, 100);
  return async () => {
    clearInterval(timer);
    await running.catch(() => undefined);
    await pass();
  };
}
