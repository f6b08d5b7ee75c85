/**
 * `npm run bench:backup [-- --size-mb N --runs N --keep DIR]`: times plain pg_dump
 * against Strongbox's logical backup (into the repository folder and into s3rver through
 * the real S3 SDK, gzip and zstd) on a generated database of about 1 GB, in one run,
 * interleaved, and prints the medians and ratios. docs/benchmarks.md explains it.
 */
import { benchOptions, runBench, startBenchCatalog } from './harness';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FolderStorage } from '../shared/adapters/storage/folder';
import { makeS3Client, S3Storage } from '../shared/adapters/storage/s3';
import { S3RVER_CREDENTIALS } from '../test/support/s3-server';
import { prepareDataset, type BenchDataset } from './dataset';
import { cpuTimeMs, mb, median, sampleRss, seconds } from './measure';
import { plainCommand, runPlain, type PlainPipeline } from './plain';
import { describeMachine, phasesTable, resultsTable, type VariantResult } from './report';
import { S3RVER_CHILD_FLAG, serveS3rverChild, startS3rverChild } from './s3rver-child';
import { strongboxTarget, type Phases } from './strongbox';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';

const USAGE = `usage: npm run bench:backup -- [--size-mb N] [--runs N] [--keep DIR]
  --size-mb N   size of the generated database in MB (default 1000)
  --runs N      runs of each variant, interleaved; medians are reported (default 3)
  --keep DIR    keep the cluster and its dataset in DIR and reuse them next time`;

/** The repository folder's goal from the issue: at most 5 % slower than plain `pg_dump -Fc > /dev/null`. */
const FOLDER_GOAL = 1.05;

interface Options {
  sizeMb: number;
  runs: number;
  keepDir?: string;
}

interface Variant {
  id: string;
  label: string;
  strongbox: boolean;
  /** For a plain variant: which pipeline's output it writes (its size comes from the warm-up). */
  plain?: PlainPipeline;
  baseline?: string;
  run(signal: AbortSignal): Promise<{ ms: number; phases?: Phases; bytes?: number }>;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { 'size-mb': { type: 'string' }, runs: { type: 'string' }, keep: { type: 'string' }, help: { type: 'boolean' } },
  });
  const positive = benchOptions(values.help, USAGE);
  return { sizeMb: positive(values['size-mb'], 1000, 'size-mb'), runs: positive(values.runs, 3, 'runs'), ...(values.keep ? { keepDir: values.keep } : {}) };
}

const progress = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

async function runBenchmark(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  return runBench(progress, async ({ signal, cleanups }) => {
    const dataset = await prepareDataset({ sizeMb: options.sizeMb, ...(options.keepDir ? { keepDir: options.keepDir } : {}), progress });
    cleanups.push(dataset.close);
    signal.throwIfAborted();
    progress(`database: ${mb(dataset.sizeBytes)} MB on disk (${dataset.tables.map((t) => `${t.name} ${t.rows.toLocaleString('en')} rows`).join(', ')})`);
    const variants = await setUpVariants(dataset, cleanups);
    signal.throwIfAborted();

    // Warm-up, untimed: fills the page cache for every variant alike and measures the plain outputs.
    const plainBytes = new Map<PlainPipeline, number>();
    for (const pipeline of ['gzip', 'zstd'] as const) {
      const run = await runPlain(dataset.conn, pipeline, { countBytes: true, signal: signal });
      plainBytes.set(pipeline, run.bytes ?? NaN);
      progress(`warm-up \`${plainCommand(pipeline, { countBytes: true })}\`: ${seconds(run.ms)} s, ${mb(run.bytes ?? NaN)} MB`);
    }

    const results: VariantResult[] = variants.map((v) => ({ id: v.id, label: v.label, times: [], cpuMs: [], phases: [], ...(v.baseline ? { baseline: v.baseline } : {}) }));
    for (let round = 1; round <= options.runs; round++) {
      for (const [index, variant] of variants.entries()) {
        signal.throwIfAborted();
        const result = results[index] as VariantResult;
        const rss = variant.strongbox ? sampleRss(100) : undefined;
        const cpuBefore = cpuTimeMs();
        const run = await variant.run(signal);
        const cpu = cpuTimeMs() - cpuBefore;
        const peak = rss?.stop();
        result.times.push(run.ms);
        result.cpuMs.push(cpu);
        if (run.phases) result.phases.push(run.phases);
        result.bytes = run.bytes ?? (variant.plain ? plainBytes.get(variant.plain) : undefined);
        if (peak !== undefined) result.peakRssBytes = Math.max(result.peakRssBytes ?? 0, peak);
        progress(`round ${round}/${options.runs} ${variant.label}: ${seconds(run.ms)} s, CPU ${seconds(cpu)} s${peak !== undefined ? `, peak RSS ${mb(peak)} MB` : ''}`);
      }
    }
    await printReport(options, dataset, results);
  });
}

/** The catalog, both repository folders and the s3rver child; each registers its cleanup. */
async function setUpVariants(dataset: BenchDataset, cleanups: Array<() => Promise<void>>): Promise<Variant[]> {
  const { catalog, walCatalog } = await startBenchCatalog(cleanups);
  const repository = await mkdtemp(join(tmpdir(), 'strongbox-bench-repo-'));
  cleanups.push(() => rm(repository, { recursive: true, force: true }));
  const s3rver = await startS3rverChild();
  cleanups.push(s3rver.stop);
  progress(`s3rver child pid ${s3rver.pid} at ${s3rver.endpoint}; repository folder ${repository}`);
  const s3 = new S3Storage(makeS3Client({ endpoint: s3rver.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS }), s3rver.bucket);

  const folderGzip = strongboxTarget(new FolderStorage(join(repository, 'gzip')), catalog, walCatalog, 'gzip');
  const s3Gzip = strongboxTarget(s3, catalog, walCatalog, 'gzip');
  const folderZstd = strongboxTarget(new FolderStorage(join(repository, 'zstd')), catalog, walCatalog, 'zstd');
  return [
    { id: 'plain-gzip', label: 'plain `pg_dump -Fc > /dev/null`', strongbox: false, plain: 'gzip', run: (signal) => runPlain(dataset.conn, 'gzip', { signal }) },
    {
      id: 'plain-gzip-file',
      label: 'plain `pg_dump -Fc -f FILE && sync FILE`',
      strongbox: false,
      plain: 'gzip',
      run: (signal) => runPlain(dataset.conn, 'gzip', { file: join(repository, 'plain.dump'), signal }),
    },
    { id: 'folder-gzip', label: 'Strongbox gzip → repository folder', strongbox: true, baseline: 'plain-gzip', run: (signal) => folderGzip.run(dataset, signal) },
    { id: 's3-gzip', label: 'Strongbox gzip → s3rver (S3 SDK)', strongbox: true, baseline: 'plain-gzip', run: (signal) => s3Gzip.run(dataset, signal) },
    { id: 'plain-zstd', label: 'plain `pg_dump -Fc -Z0 | zstd -1 -T2 > /dev/null`', strongbox: false, plain: 'zstd', run: (signal) => runPlain(dataset.conn, 'zstd', { signal }) },
    { id: 'folder-zstd', label: 'Strongbox zstd → repository folder', strongbox: true, baseline: 'plain-zstd', run: (signal) => folderZstd.run(dataset, signal) },
  ];
}

async function printReport(options: Options, dataset: BenchDataset, results: VariantResult[]): Promise<void> {
  const of = (id: string) => results.find((r) => r.id === id);
  const medianMs = (id: string) => median(of(id)?.times ?? [NaN]);
  const uploadedMs = median(of('folder-gzip')?.phases.map((p) => p.manifestStored) ?? [NaN]);
  const ratio = medianMs('folder-gzip') / medianMs('plain-gzip');
  const lines = [
    '',
    `## Backup benchmark: ${mb(dataset.sizeBytes)} MB database, ${options.runs} interleaved runs per variant (medians)`,
    '',
    ...(await describeMachine(dataset.serverVersion)),
    `- dataset: ${dataset.tables.map((t) => `${t.name} ${t.rows.toLocaleString('en')} rows`).join(', ')}${dataset.reused ? ' (reused)' : ''}`,
    '',
    resultsTable(results, dataset.sizeBytes, 'plain-gzip'),
    '',
    'Milestones of the Strongbox runs (median seconds from the start of the backup):',
    '',
    phasesTable(results),
    '',
    `- repository folder, VERIFIED, vs plain \`pg_dump -Fc > /dev/null\`: ${ratio.toFixed(3)} × (goal ≤ ${FOLDER_GOAL}: ${ratio <= FOLDER_GOAL ? 'met' : 'NOT met'})`,
    `- repository folder, manifest stored (verification excluded, as in AWS where the checksum function runs apart): ${(uploadedMs / medianMs('plain-gzip')).toFixed(3)} ×`,
    `- repository folder, VERIFIED, vs plain \`pg_dump -Fc -f FILE && sync FILE\`: ${(medianMs('folder-gzip') / medianMs('plain-gzip-file')).toFixed(3)} ×`,
    `- zstd mode, VERIFIED: ${(medianMs('folder-zstd') / medianMs('plain-gzip')).toFixed(3)} × plain pg_dump -Fc, ${(medianMs('folder-zstd') / medianMs('plain-zstd')).toFixed(3)} × its own plain pipeline`,
    `- peak RSS of the benchmark process during Strongbox runs: ${mb(Math.max(...results.map((r) => r.peakRssBytes ?? 0)))} MB (s3rver runs in a child process and is not counted)`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

muteSdkNodeVersionWarning();
if (process.argv.slice(2).includes(S3RVER_CHILD_FLAG)) {
  await serveS3rverChild();
} else {
  process.exitCode = await runBenchmark(process.argv.slice(2));
}
