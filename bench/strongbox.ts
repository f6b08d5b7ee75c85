/**
 * One Strongbox backup target of the benchmark: the real runLogicalBackup with the real
 * tools, storage and catalog, wired as local mode wires them (the checksum function runs
 * on the manifest's ObjectCreated event), plus timestamps of its phases.
 */
import { performance } from 'node:perf_hooks';
import type { WalCatalog } from '../shared/ports/wal-catalog';
import type { Catalog } from '../shared/ports/catalog';
import type { Storage } from '../shared/ports/storage';
import { ConsoleAlertPublisher } from '../shared/adapters/sns/console-alerts';
import type { BackupEntry, Compression } from '../shared/domain/backup';
import { parseManifest } from '../shared/domain/manifest';
import { deliverObjectEvents } from '../shared/local/object-events';
import type { Log } from '../shared/ports';
import { pgDumpTools } from '../shared/runtime/dump-tools';
import { STRONGBOX_VERSION } from '../shared/runtime/version';
import { runLogicalBackup, type BackupDeps } from '../shared/usecases/backup';
import type { DumpTools } from '../shared/usecases/dump-tools';
import type { BenchDataset } from './dataset';
import { BENCH_DATABASE } from './dataset';

/** Milliseconds from the start of a backup to each of its milestones. */
export interface Phases {
  /** The exported snapshot is open (tables resolved). */
  snapshot: number;
  /** pg_dump (and zstd) exited 0. */
  dumpExited: number;
  /** The dump object is stored (fsync'd and renamed, or the multipart upload completed). */
  dumpStored: number;
  /** How long the row counts took (they run beside the dump). */
  countRows: number;
  /** The manifest is stored: everything after this is verification (read back, SHA-256, catalog). */
  manifestStored: number;
}

/** One verified Strongbox backup. */
export interface StrongboxRun {
  ms: number;
  /** Dump plus globals, as stored. */
  bytes: number;
  phases: Phases;
  entry: BackupEntry;
}

/** A storage wired for benchmark runs; run() may be called many times, never concurrently. */
export interface StrongboxTarget {
  run(dataset: BenchDataset, signal?: AbortSignal): Promise<StrongboxRun>;
}

/**
 * Wires `storage` for backups with `compression`: catalog events delivered locally, alerts
 * and WARN/ERROR log lines printed to stderr (the benchmark must show why a run failed).
 */
export function strongboxTarget(storage: Storage, catalog: Catalog, walCatalog: WalCatalog, compression: Compression): StrongboxTarget {
  let started = 0;
  let marks: Partial<Phases> = {};
  const stored = new Map<string, number>();
  // Registered before the local event delivery, so it stamps the write before verification starts.
  storage.onObjectCreated((object) => void stored.set(object.key, performance.now() - started));
  const log = stderrLog();
  const alerts = new ConsoleAlertPublisher();
  const clock = () => new Date();
  deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
  const deps: BackupDeps = { storage, catalog, alerts, log, clock, tools: pgDumpTools, version: STRONGBOX_VERSION };

  return {
    async run(dataset, signal) {
      marks = {};
      deps.tools = timedTools(pgDumpTools, () => started, marks);
      stored.clear();
      started = performance.now();
      const entry = await runLogicalBackup(deps, {
        database: BENCH_DATABASE,
        connection: dataset.conn,
        tier: 'manual',
        compression,
        includeRolePasswords: false,
        runner: `pid:${process.pid}`,
        ...(signal ? { signal } : {}),
      });
      const ms = performance.now() - started;
      await assertComplete(storage, entry, dataset);
      const phases: Phases = {
        snapshot: marks.snapshot ?? NaN,
        dumpExited: marks.dumpExited ?? NaN,
        dumpStored: stored.get(entry.key) ?? NaN,
        countRows: marks.countRows ?? NaN,
        manifestStored: stored.get(entry.manifestKey) ?? NaN,
      };
      // Each run leaves the next one the same empty repository (and disk, and page cache).
      await storage.delete([entry.key, entry.manifestKey, ...(entry.globalsKey ? [entry.globalsKey] : [])]);
      return { ms, bytes: entry.bytes ?? NaN, phases, entry };
    },
  };
}

/** A benchmark that times a failure is worthless: the backup must be VERIFIED, with every table counted right. */
async function assertComplete(storage: Storage, entry: BackupEntry, dataset: BenchDataset): Promise<void> {
  if (entry.state !== 'VERIFIED') throw new Error(`backup ${entry.id} ended ${entry.state}${entry.reason ? `: ${entry.reason}` : ''}`);
  const manifest = parseManifest((await storage.getBytes(entry.manifestKey)).toString('utf8'), entry.manifestKey);
  for (const table of dataset.tables) {
    const counted = manifest.tables.find((t) => t.schema === 'public' && t.name === table.name);
    if (counted?.rows !== table.rows) throw new Error(`backup ${entry.id}: the manifest counts ${counted?.rows ?? 'no'} rows in ${table.name}, ${table.rows} were generated`);
  }
}

/** The real tools, stamping when the snapshot opened, how long counting took and when pg_dump exited. */
function timedTools(tools: DumpTools, start: () => number, marks: Partial<Phases>): DumpTools {
  const since = () => performance.now() - start();
  return {
    ...tools,
    async openSnapshot(conn, options) {
      const session = await tools.openSnapshot(conn, options);
      marks.snapshot = since();
      return {
        ...session,
        async countRows() {
          const from = performance.now();
          try {
            return await session.countRows();
          } finally {
            marks.countRows = performance.now() - from;
          }
        },
      };
    },
    spawnPgDump(conn, options) {
      const tool = tools.spawnPgDump(conn, options);
      tool.done.then(() => (marks.dumpExited = since()), () => undefined);
      return tool;
    },
  };
}

function stderrLog(): Log {
  const print = (level: string) => (message: string, attributes?: Record<string, unknown>) =>
    void process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  return { info: () => undefined, warn: print('WARN'), error: print('ERROR') };
}
