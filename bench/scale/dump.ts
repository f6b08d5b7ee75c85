/**
 * bench:scale, the logical backup of a big database (issue 15 point 6): Strongbox's own backup
 * in its two modes, through the same code (runLogicalBackup → S3Storage on the s3rver child,
 * the catalog in dynalite, the ObjectCreated events delivered as in local mode), on the same
 * database in the same run, and `pg_dump -Fd -j N` to a local folder for reference.
 *
 * - `single`: `dumpJobs: 1` — one `pg_dump -Fc` stream, one object (what every backup was).
 * - `streams`: `dumpJobs: N` — one exported snapshot; pre-data, N data parts (tables balanced
 *   by size, planDumpGroups) and post-data, all at once, each its own object (docs/backups.md).
 * - `directory`: `pg_dump -Fd -j N` into a folder — parallel, but the whole dump on local disk
 *   before anything could be uploaded (Fargate: 200 GiB at most). Not a Strongbox mode.
 *
 * Each backup is timed until UPLOADED (its manifest written), then waited VERIFIED; each is
 * then restored with runRestore (streamed, one job per part; row counts of every table
 * checked against the manifest by the restore itself) into a scratch database, dropped after.
 */
import { startBenchCatalog } from '../harness';
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectClient } from '../../shared/adapters/postgres/client';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { makeS3Client, S3Storage } from '../../shared/adapters/storage/s3';
import type { PgConnection } from '../../shared/ports/postgres';
import type { Log } from '../../shared/ports';
import { deliverObjectEvents } from '../../shared/local/object-events';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { STRONGBOX_VERSION } from '../../shared/runtime/version';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { readManifest } from '../../shared/usecases/index-manifest';
import { runRestore } from '../../shared/usecases/restore';
import { waitUntilFinal } from '../../shared/usecases/wait';
import { markdownTable, mb, seconds, median } from '../measure';

/** One measured variant. */
export interface DumpVariant {
  name: 'single' | 'streams' | 'directory';
  /** Dump and upload (until the manifest is written); for `directory`, the dump to the folder. */
  ms: number;
  bytes: number;
  /** Objects the backup stores (dump or parts; globals and manifest not counted). */
  objects: number;
  localDisk: string;
  /** runRestore of the backup with one job (streamed), counts checked; absent for `directory`. */
  restoreMs?: number;
  /** `streams` only: runRestore with `jobs` jobs (the post-data part, indexes and constraints, built in parallel). */
  restoreParallelMs?: number;
}

/** What parallelDumpReport measured. */
export interface ParallelDumpResult {
  variants: DumpVariant[];
  table: string;
  lines: string[];
}

/** Where the S3-compatible server is. */
export interface BenchS3 {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

async function run(conn: PgConnection, command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { env: toolEnv(conn), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
}

async function folderBytes(path: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}

/** WARN and ERROR on stderr (a benchmark must show why a run failed); INFO dropped. */
function quietLog(): Log {
  const print = (level: string) => (message: string, attributes?: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  return { info: () => undefined, warn: print('warn'), error: print('error') };
}

/**
 * Backs `conn`'s database up as one stream and as `jobs` data parts (same code, S3 path),
 * restores each into `<database>_<mode>_check` (dropped afterwards), and dumps it with
 * `pg_dump -Fd -j jobs` under `workDir` for reference.
 *
 * @throws Error when a backup does not end VERIFIED, a restore fails (its counts differ), or a tool fails.
 */
export async function parallelDumpReport(
  conn: PgConnection,
  options: { jobs: number; workDir: string; s3: BenchS3; progress: (line: string) => void; signal?: AbortSignal },
): Promise<ParallelDumpResult> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const variants: DumpVariant[] = [];
  try {
    const { catalog, walCatalog } = await startBenchCatalog(cleanups);
    const storage = new S3Storage(makeS3Client({ endpoint: options.s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: options.s3 }), options.s3.bucket);
    const log = quietLog();
    const alerts = new ConsoleAlertPublisher();
    const clock = () => new Date();
    deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
    const deps = { storage, catalog, alerts, log, clock, tools: pgDumpTools, version: STRONGBOX_VERSION };
    const admin = await connectClient({ ...conn, database: 'postgres' });
    cleanups.push(() => admin.end());

    for (const [name, dumpJobs] of [['single', 1], ['streams', options.jobs]] as const) {
      const started = performance.now();
      const uploaded = await runLogicalBackup(deps, {
        database: `bench-${name}`, connection: conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false,
        runner: `pid:${process.pid}`, dumpJobs, waitForVerification: false, ...(options.signal ? { signal: options.signal } : {}),
      });
      const ms = performance.now() - started;
      const backup = await waitUntilFinal(catalog, uploaded.id, { timeoutMs: 3_600_000 });
      if (backup.state !== 'VERIFIED') throw new Error(`the ${name} backup ended ${backup.state}: ${backup.reason ?? ''}`);
      const manifest = await readManifest(storage, backup.manifestKey);
      const objects = 1 + (manifest.objects.parts?.length ?? 0);
      const bytes = manifest.objects.dump.bytes + (manifest.objects.parts ?? []).reduce((sum, part) => sum + part.bytes, 0);
      options.progress(`dump: ${name} backup (dumpJobs ${dumpJobs}) ${seconds(ms)} s to UPLOADED, ${objects} object(s), ${mb(bytes)} MB`);
      const check = `${conn.database}_${name}_check`;
      cleanups.push(() => admin.query(`DROP DATABASE IF EXISTS "${check}"`));
      /** One restore into a fresh check database, timed; its row counts are checked by runRestore. */
      const restoreOnce = async (jobs: number): Promise<number> => {
        await admin.query(`DROP DATABASE IF EXISTS "${check}"`);
        const restored = performance.now();
        await runRestore({ ...deps, ...pgRestoreDeps, tmpDir: options.workDir }, { backupId: backup.id, database: `bench-${name}`, target: { ...conn, database: check }, jobs, dropFirst: false, force: false });
        const restoreMs = performance.now() - restored;
        options.progress(`dump: ${name} backup restored with ${jobs} job(s) in ${seconds(restoreMs)} s, every row count equal`);
        return restoreMs;
      };
      // A parallel backup is restored with one job and with `jobs`, alternated twice (so that neither order warms the other's cache); medians.
      const order = name === 'streams' && options.jobs > 1 ? [options.jobs, 1, options.jobs, 1] : [1];
      const times = new Map<number, number[]>();
      for (const jobs of order) times.set(jobs, [...(times.get(jobs) ?? []), await restoreOnce(jobs)]);
      const restoreMs = median(times.get(1)!);
      const parallel = times.get(options.jobs);
      await admin.query(`DROP DATABASE IF EXISTS "${check}"`);
      if (name === 'streams' && parallel && options.jobs > 1) {
        variants.push({ name, ms, bytes, objects, localDisk: 'none (streamed to S3)', restoreMs, restoreParallelMs: median(parallel) });
        continue;
      }
      variants.push({ name, ms, bytes, objects, localDisk: 'none (streamed to S3)', restoreMs });
    }

    const directory = join(options.workDir, 'parallel-dump-directory');
    await rm(directory, { recursive: true, force: true });
    await mkdir(options.workDir, { recursive: true });
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const started = performance.now();
    await run(conn, 'pg_dump', ['-Fd', `--jobs=${options.jobs}`, '--no-owner', '--no-acl', '--no-password', '-f', directory, `--dbname=${conn.database}`]);
    const ms = performance.now() - started;
    variants.push({ name: 'directory', ms, bytes: await folderBytes(directory), objects: 1, localDisk: 'the whole dump' });
    options.progress(`dump: pg_dump -Fd -j ${options.jobs} ${seconds(ms)} s (local folder, not uploaded)`);

    const single = variants[0]!;
    const table = markdownTable(
      ['variant', 'dump + upload', 'vs single', 'dump size', 'objects', 'restore, 1 job (counts checked)', `restore, ${options.jobs} jobs`, 'local disk needed'],
      variants.map((v) => [
        v.name, `${seconds(v.ms)} s`, `${(single.ms / v.ms).toFixed(2)} ×`, `${mb(v.bytes)} MB`, String(v.objects),
        v.restoreMs === undefined ? '—' : `${seconds(v.restoreMs)} s`,
        v.restoreParallelMs === undefined || v.restoreMs === undefined ? '—' : `${seconds(v.restoreParallelMs)} s (${(v.restoreParallelMs / v.restoreMs).toFixed(2)} × the 1-job time)`,
        v.localDisk,
      ]),
    );
    const lines = [`single and streams are Strongbox backups (runLogicalBackup, dumpJobs 1 and ${options.jobs}) to s3rver, each VERIFIED and restored with runRestore (streams with 1 and ${options.jobs} jobs, alternated twice, medians); directory is pg_dump -Fd -j ${options.jobs} to a local folder, for reference`];
    return { variants, table, lines };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}
