/**
 * `npm run bench:scale [-- --sizes 500,1000,2000 --keep DIR --skip-rss]`: what grows and
 * what stays flat as the database grows (issue 15). In one run:
 * 1. the S3 part plan from 1 GiB to 5 TiB (pure);
 * 2. verification throughput on the S3-compatible server: one stream against the checksum
 *    function's parallel ranged reads (OpenSSL and the resumable hash), and what fits each limit;
 * 3. the peak RSS and time of a backup, a restore and a validate through the CLI on the S3
 *    path, for databases of each size (flat RSS is the goal: nothing holds a table or a dump);
 * 4. Strongbox's logical backup in its two modes, one stream and N parts of one exported
 *    snapshot (the same runLogicalBackup, S3 path), each restored, and `pg_dump -Fd -j N` for
 *    reference, on the same database (the largest size), in the same run.
 * docs/benchmarks.md explains it and keeps two full runs' figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { S3RVER_CREDENTIALS } from '../test/support/s3-server';
import { prepareDataset } from './dataset';
import { benchOptions, runBench } from './harness';
import { markdownTable, mb, seconds } from './measure';
import { S3RVER_CHILD_FLAG, serveS3rverChild, startS3rverChild } from './s3rver-child';
import { connectionUrl, prepareCliWorld, runCli, type CliRun, type CliWorld } from './scale/cli-rss';
import { parallelDumpReport, type ParallelDumpResult } from './scale/dump';
import { partPlanReport } from './scale/parts';
import { measureVerify, verifyReport } from './scale/verify';

const USAGE = `usage: npm run bench:scale -- [--sizes MB,MB,...] [--verify-mb N] [--jobs N] [--keep DIR] [--skip-rss] [--skip-dump]
  --sizes       database sizes in MB for the RSS and dump runs (default 500,1000,2000)
  --verify-mb N size of the object verified each way (default 256)
  --jobs N      data parts of the parallel backup (default 2)
  --keep DIR    keep each size's cluster in DIR/size-N and reuse it next time
  --skip-rss    only the part plan and verification (no PostgreSQL needed)
  --skip-dump   no parallel dump comparison`;

/** Peak RSS may grow this much from the smallest to the largest database and still count as flat. */
const FLAT_RSS_RATIO = 1.25;

const progress = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

interface Options {
  sizes: number[];
  verifyMb: number;
  jobs: number;
  keepDir?: string;
  skipRss: boolean;
  skipDump: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { sizes: { type: 'string' }, 'verify-mb': { type: 'string' }, jobs: { type: 'string' }, keep: { type: 'string' }, 'skip-rss': { type: 'boolean' }, 'skip-dump': { type: 'boolean' }, help: { type: 'boolean' } },
  });
  const positive = benchOptions(values.help, USAGE);
  const sizes = (values.sizes ?? '500,1000,2000').split(',').map((text) => positive(text.trim(), 0, 'sizes'));
  return {
    sizes,
    verifyMb: positive(values['verify-mb'], 256, 'verify-mb'),
    jobs: positive(values.jobs, 2, 'jobs'),
    skipRss: values['skip-rss'] ?? false,
    skipDump: values['skip-dump'] ?? false,
    ...(values.keep ? { keepDir: values.keep } : {}),
  };
}

interface SizeResult {
  sizeMb: number;
  databaseBytes: number;
  runs: Record<'backup' | 'restore' | 'validate', CliRun>;
  /** The parallel dump against plain pg_dump, measured on the largest size only. */
  dump?: ParallelDumpResult;
}

async function measureSize(world: CliWorld, sizeMb: number, options: Options, signal: AbortSignal, withDump: boolean): Promise<SizeResult> {
  const dataset = await prepareDataset({ sizeMb, progress, ...(options.keepDir ? { keepDir: join(options.keepDir, `size-${sizeMb}`) } : {}) });
  try {
    const url = connectionUrl(dataset.conn);
    const backup = await runCli(world, ['backup', '--database-url', url, '--json'], signal);
    progress(`${sizeMb} MB: backup ${seconds(backup.ms)} s, peak RSS ${mb(backup.peakRssBytes)} MB`);
    const restore = await runCli(world, ['restore', 'latest', '--database', 'bench', '--target-url', connectionUrl(dataset.conn, `restored_${sizeMb}`), '--yes', '--json'], signal);
    progress(`${sizeMb} MB: restore ${seconds(restore.ms)} s, peak RSS ${mb(restore.peakRssBytes)} MB`);
    const validate = await runCli(world, ['validate', 'latest', '--database', 'bench', '--json'], signal);
    progress(`${sizeMb} MB: validate ${seconds(validate.ms)} s, peak RSS ${mb(validate.peakRssBytes)} MB`);
    const dump = withDump ? await parallelDumpReport(dataset.conn, { jobs: options.jobs, workDir: world.home, s3: world.s3, progress, signal }) : undefined;
    return { sizeMb, databaseBytes: dataset.sizeBytes, runs: { backup, restore, validate }, ...(dump ? { dump } : {}) };
  } finally {
    await dataset.close();
  }
}

function rssReport(results: SizeResult[]): string[] {
  const rows = results.map((r) => [
    `${mb(r.databaseBytes)} MB`,
    ...(['backup', 'restore', 'validate'] as const).flatMap((step) => [`${seconds(r.runs[step].ms)} s`, `${mb(r.runs[step].peakRssBytes)} MB`]),
  ]);
  const first = results[0];
  const last = results[results.length - 1];
  const verdicts = first && last && results.length > 1
    ? (['backup', 'restore', 'validate'] as const).map((step) => {
        const ratio = last.runs[step].peakRssBytes / first.runs[step].peakRssBytes;
        return `- ${step}: peak RSS ${ratio.toFixed(2)} × from ${mb(first.databaseBytes)} MB to ${mb(last.databaseBytes)} MB of database (${ratio <= FLAT_RSS_RATIO ? 'flat' : 'GROWS'}; flat means ≤ ${FLAT_RSS_RATIO} ×)`;
      })
    : [];
  return [markdownTable(['database', 'backup', 'peak RSS', 'restore', 'peak RSS', 'validate', 'peak RSS'], rows), '', ...verdicts];
}

async function runBenchmark(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  return runBench(progress, async ({ signal, cleanups }) => {
    const plan = partPlanReport();
    const lines = ['', '## Scale benchmark', '', '### S3 part plan, 1 GiB to 5 TiB', '', plan.table, '', `- every upload fits in 10,000 parts: ${plan.ok ? 'yes' : 'NO'}`, ''];
    const s3rver = await startS3rverChild();
    cleanups.push(s3rver.stop);
    const verify = await measureVerify({ endpoint: s3rver.endpoint, bucket: s3rver.bucket, credentials: S3RVER_CREDENTIALS, sizeMb: options.verifyMb, progress });
    lines.push('### Verification throughput on the S3-compatible server', '', verifyReport(verify), '');
    if (!options.skipRss) {
      const home = await mkdtemp(join(tmpdir(), 'strongbox-bench-scale-'));
      cleanups.push(() => rm(home, { recursive: true, force: true }));
      const world: CliWorld = { home, s3: { endpoint: s3rver.endpoint, bucket: s3rver.bucket, ...S3RVER_CREDENTIALS } };
      await prepareCliWorld(world);
      const results: SizeResult[] = [];
      for (const [index, sizeMb] of options.sizes.entries()) {
        signal.throwIfAborted();
        results.push(await measureSize(world, sizeMb, options, signal, !options.skipDump && index === options.sizes.length - 1));
      }
      lines.push('### Peak RSS of the Strongbox process on the S3 path (CLI, s3rver in a child process)', '', ...rssReport(results), '');
      const dump = results[results.length - 1]?.dump;
      if (dump) lines.push(`### Parallel backup (${options.jobs} data parts) vs one stream, same code and database, same run`, '', dump.table, '', ...dump.lines, '');
    }
    process.stdout.write(lines.join('\n'));
  });
}

muteSdkNodeVersionWarning();
if (process.argv.slice(2).includes(S3RVER_CHILD_FLAG)) {
  await serveS3rverChild();
} else {
  process.exitCode = await runBenchmark(process.argv.slice(2));
}
