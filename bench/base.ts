/**
 * `npm run bench:base [-- --size-mb N --runs N --keep DIR]`: a Strongbox base backup into
 * the repository folder (zstd, verified) against plain `pg_basebackup -Ft` to /dev/null
 * and `pgbackrest backup` (full, process-max 2, zst), on bench:backup's random-text
 * database, in one run, interleaved, with medians and ratios. docs/benchmarks.md explains it.
 */
import { benchOptions, runBench, startBenchCatalog } from './harness';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pgBaseBackupTools } from '../shared/adapters/postgres/basebackup';
import { LocalCluster } from '../shared/adapters/postgres/cluster';
import { toolEnv } from '../shared/adapters/postgres/tool-stream';
import { ConsoleAlertPublisher } from '../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../shared/adapters/storage/folder';
import { deliverObjectEvents } from '../shared/local/object-events';
import type { Log } from '../shared/ports';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { STRONGBOX_VERSION } from '../shared/runtime/version';
import { runBaseBackup } from '../shared/usecases/base-backup';
import { prepareDataset, type BenchDataset } from './dataset';
import { cpuTimeMs, markdownTable, mb, median, sampleRss, seconds } from './measure';
import { describeMachine } from './report';
import { createPgbackrestRepo, pgbackrestVersion, runPgbackrest, STANZA, type PgbackrestRepo } from './wal/pgbackrest';
import { runShell } from './wal/shell';
import { chownToServer } from './wal/source';

const USAGE = `usage: npm run bench:base -- [--size-mb N] [--runs N] [--keep DIR]
  --size-mb N   size of the generated database in MB (default 1000)
  --runs N      runs of each variant, interleaved; medians are reported (default 3)
  --keep DIR    keep the cluster and its dataset in DIR and reuse them next time (shared with bench:backup)`;

const PLAIN = 'pg_basebackup -D - -Ft -X fetch --checkpoint=fast --no-password';

interface Variant {
  id: string;
  label: string;
  run(signal: AbortSignal): Promise<{ ms: number; bytes?: number; peakRssBytes?: number; manifestMs?: number }>;
}

interface Result {
  variant: Variant;
  times: number[];
  cpuMs: number[];
  bytes?: number;
  peakRssBytes?: number;
  manifestMs: number[];
}

const progress = (line: string): void => void process.stderr.write(`[bench:base] ${line}\n`);

function parseOptions(argv: string[]): { sizeMb: number; runs: number; keepDir?: string } {
  const { values } = parseArgs({ args: argv, options: { 'size-mb': { type: 'string' }, runs: { type: 'string' }, keep: { type: 'string' }, help: { type: 'boolean' } } });
  const positive = benchOptions(values.help, USAGE);
  return { sizeMb: positive(values['size-mb'], 1000, 'size-mb'), runs: positive(values.runs, 3, 'runs'), ...(values.keep ? { keepDir: values.keep } : {}) };
}

async function runBenchmark(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  return runBench(progress, async ({ signal, cleanups }) => {
    const work = await mkdtemp(join(tmpdir(), 'strongbox-bench-base-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    await chownToServer(work);
    // The dataset always lives in a folder of ours (or --keep): the cluster must be reopened to enable replication.
    const keepDir = resolve(options.keepDir ?? join(work, 'dataset'));
    const dataset = await prepareDataset({ sizeMb: options.sizeMb, keepDir, progress });
    cleanups.push(dataset.close);
    progress(`database: ${mb(dataset.sizeBytes)} MB on disk`);
    const cluster = await LocalCluster.open(join(keepDir, 'cluster'));
    const version = await pgbackrestVersion();
    if (!version) progress('pgbackrest is not installed (apt-get install pgbackrest): measuring Strongbox and pg_basebackup alone');
    const repo = version ? await createPgbackrestRepo(join(work, 'pgbackrest'), cluster, { 'compress-type': 'zst', 'process-max': '2', 'start-fast': 'y', 'repo1-retention-full': '99' }) : undefined;
    // Base backups need WAL senders; pgBackRest needs archiving into its repository.
    await configure(cluster, repo);
    cleanups.push(() => configure(cluster, undefined, true));
    const variants = await setUpVariants(dataset, work, repo, cleanups);
    const warm = await runShell(`${PLAIN} | wc -c`, toolEnv(dataset.conn), signal);
    const plainBytes = Number(warm.stdout.trim());
    progress(`warm-up \`${PLAIN} | wc -c\`: ${seconds(warm.ms)} s, ${mb(plainBytes)} MB`);
    const results: Result[] = variants.map((variant) => ({ variant, times: [], cpuMs: [], manifestMs: [] }));
    for (let round = 1; round <= options.runs; round++) {
      for (const result of results) {
        signal.throwIfAborted();
        const rss = result.variant.id === 'strongbox' ? sampleRss(100) : undefined;
        const cpuBefore = cpuTimeMs();
        const run = await result.variant.run(signal);
        const cpu = cpuTimeMs() - cpuBefore;
        const peak = rss?.stop() ?? run.peakRssBytes;
        result.times.push(run.ms);
        result.cpuMs.push(cpu);
        if (run.manifestMs !== undefined) result.manifestMs.push(run.manifestMs);
        result.bytes = run.bytes ?? (result.variant.id === 'plain' ? plainBytes : result.bytes);
        if (peak !== undefined) result.peakRssBytes = Math.max(result.peakRssBytes ?? 0, peak);
        progress(`round ${round}/${options.runs} ${result.variant.label}: ${seconds(run.ms)} s, CPU ${seconds(cpu)} s${peak !== undefined ? `, peak RSS ${mb(peak)} MB` : ''}`);
      }
    }
    process.stdout.write(await report(options.runs, dataset, version, results));
  });
}

/** Sets (or, with `reset`, removes) replication and archiving settings, then restarts the server. */
async function configure(cluster: LocalCluster, repo: PgbackrestRepo | undefined, reset = false): Promise<void> {
  const names = ['wal_level', 'max_wal_senders', 'archive_mode', 'archive_command'];
  const sql = reset
    ? names.map((name) => `ALTER SYSTEM RESET ${name};`).join('\n')
    : [`ALTER SYSTEM SET wal_level = 'replica';`, `ALTER SYSTEM SET max_wal_senders = '4';`, ...(repo ? [`ALTER SYSTEM SET archive_mode = 'on';`, `ALTER SYSTEM SET archive_command = '${repo.archiveCommand({ async: false }).replace(/'/g, "''")}';`] : [])].join('\n');
  await cluster.psql(sql);
  await cluster.stop();
  await cluster.start();
}

async function setUpVariants(dataset: BenchDataset, work: string, repo: PgbackrestRepo | undefined, cleanups: Array<() => Promise<void>>): Promise<Variant[]> {
  const { catalog, walCatalog } = await startBenchCatalog(cleanups);
  const storage = new FolderStorage(join(work, 'repository'));
  const alerts = new ConsoleAlertPublisher();
  const print = (level: string) => (message: string, attributes?: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  const log: Log = { info: () => undefined, warn: print('WARN'), error: print('ERROR') };
  const clock = () => new Date();
  let started = 0;
  let manifestAt = NaN;
  storage.onObjectCreated((object) => void (object.key.endsWith('.json') && (manifestAt = performance.now() - started)));
  deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
  const deps = { storage, catalog, alerts, log, clock, tools: pgBaseBackupTools, version: STRONGBOX_VERSION };
  const variants: Variant[] = [
    { id: 'plain', label: `plain \`${PLAIN} > /dev/null\``, run: (signal) => runShell(`${PLAIN} > /dev/null`, toolEnv(dataset.conn), signal) },
    { id: 'plain-zstd', label: 'plain `pg_basebackup … | zstd -1 -T0 | wc -c`', run: (signal) => runShell(`${PLAIN} | zstd -1 -T0 -q -c | wc -c`, toolEnv(dataset.conn), signal).then((r) => ({ ms: r.ms, bytes: Number(r.stdout.trim()) })) },
    {
      id: 'strongbox',
      label: 'Strongbox base backup → repository folder (zstd, VERIFIED)',
      async run(signal) {
        started = performance.now();
        manifestAt = NaN;
        const entry = await runBaseBackup(deps, { database: 'bench', connection: dataset.conn, tier: 'manual', compression: 'zstd', runner: `pid:${process.pid}`, signal });
        const ms = performance.now() - started;
        if (entry.state !== 'VERIFIED') throw new Error(`base backup ${entry.id} ended ${entry.state}${entry.reason ? `: ${entry.reason}` : ''}`);
        await storage.delete([entry.key, entry.manifestKey]);
        return { ms, manifestMs: manifestAt, ...(entry.bytes !== undefined ? { bytes: entry.bytes } : {}) };
      },
    },
  ];
  if (repo) {
    let before = 0;
    variants.push({
      id: 'pgbackrest',
      label: 'pgbackrest backup --type=full (process-max 2, zst)',
      async run(signal) {
        const run = await runPgbackrest(['--config', repo.config, `--stanza=${STANZA}`, '--type=full', 'backup'], signal);
        const total = await repo.storedBytes('backup');
        const bytes = total - before;
        before = total;
        return { ...run, bytes };
      },
    });
  }
  return variants;
}

async function report(runs: number, dataset: BenchDataset, pgbackrest: string | undefined, results: Result[]): Promise<string> {
  const medianOf = (id: string) => median(results.find((r) => r.variant.id === id)?.times ?? [NaN]);
  const rows = results.map((r) => {
    const ms = median(r.times);
    return [
      r.variant.label,
      r.times.map(seconds).join(' / '),
      seconds(ms),
      seconds(median(r.cpuMs)),
      (dataset.sizeBytes / 1e6 / (ms / 1000)).toFixed(1),
      r.bytes === undefined ? '' : mb(r.bytes),
      (ms / medianOf('plain')).toFixed(3),
      Number.isFinite(medianOf('pgbackrest')) ? (ms / medianOf('pgbackrest')).toFixed(3) : '',
      r.peakRssBytes === undefined ? '' : mb(r.peakRssBytes),
    ];
  });
  const strongbox = medianOf('strongbox');
  const pgbr = medianOf('pgbackrest');
  const manifest = median(results.find((r) => r.variant.id === 'strongbox')?.manifestMs ?? [NaN]);
  return [
    '',
    `## Base backup benchmark: ${mb(dataset.sizeBytes)} MB database, ${runs} interleaved runs per variant (medians)`,
    '',
    ...(await describeMachine(dataset.serverVersion)),
    `- pgBackRest ${pgbackrest ?? 'not installed (apt-get install pgbackrest)'}`,
    '',
    markdownTable(['variant', 'runs (s)', 'median (s)', 'client CPU (s)', 'DB MB/s', 'stored MB', '× pg_basebackup', '× pgbackrest', 'peak RSS MB'], rows),
    '',
    `- Strongbox, manifest stored (before the inline verification): ${seconds(manifest)} s`,
    Number.isFinite(pgbr)
      ? `- goal "faster than pgBackRest": Strongbox VERIFIED ${seconds(strongbox)} s vs pgbackrest ${seconds(pgbr)} s = ${(strongbox / pgbr).toFixed(3)} × (${strongbox < pgbr ? 'met' : 'NOT met'}); manifest stored ${(manifest / pgbr).toFixed(3)} ×`
      : '- goal "faster than pgBackRest": not measured (pgbackrest is not installed)',
    '- peak RSS: the benchmark process during Strongbox runs (dynalite and the SDK included; pg_basebackup and zstd not); for pgbackrest its largest process (GNU time %M)',
    '',
  ].join('\n');
}

muteSdkNodeVersionWarning();
process.exitCode = await runBenchmark(process.argv.slice(2));
