/**
 * `npm run bench:restore [-- --size-mb N --runs N --keep DIR]`: a Strongbox restore (the real
 * runRestore: download and SHA-256, archive check, pg_restore -j2 into a scratch database,
 * row counts, swap) from the repository folder and from s3rver, against plain
 * `createdb && pg_restore -j2` of the same dump (after a plain GetObject for S3), on
 * bench:backup's random-text database, in one run, interleaved, with medians, ratios and
 * Strongbox's phases. docs/benchmarks.md explains it.
 */
import { parseArgs } from 'node:util';
import { toolVersion } from '../shared/adapters/postgres/tools';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { prepareDataset, type BenchDataset } from './dataset';
import { benchOptions, runBench } from './harness';
import { cpuTimeMs, mb, sampleRss, seconds } from './measure';
import { describeMachine } from './report';
import { openAdmin } from './restore/databases';
import { setUpFixture, type RestoreFixture } from './restore/fixture';
import { goalLines, phasesTable, resultsTable, type RestoreResult } from './restore/report';
import { JOBS, PLAIN_TARGET, plainRestoreCommand, restoreVariants, STRONGBOX_TARGET } from './restore/variants';
import { S3RVER_CHILD_FLAG, serveS3rverChild } from './s3rver-child';

const USAGE = `usage: npm run bench:restore -- [--size-mb N] [--runs N] [--keep DIR] [--prototype]
  --size-mb N   size of the generated database in MB (default 1000)
  --runs N      runs of each variant, interleaved; medians are reported (default 3)
  --keep DIR    keep the cluster and its dataset in DIR and reuse them next time (shared with bench:backup)
  --prototype   also time a prototype folder restore (bench/restore/overlap.ts): no copy, the stored
                dump hashed in place while pg_restore reads it, row counts on 2 sessions`;

interface Options {
  sizeMb: number;
  runs: number;
  keepDir?: string;
  prototype: boolean;
}

const progress = (line: string): void => void process.stderr.write(`[bench:restore] ${line}\n`);

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { 'size-mb': { type: 'string' }, runs: { type: 'string' }, keep: { type: 'string' }, prototype: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  const positive = benchOptions(values.help, USAGE);
  return {
    sizeMb: positive(values['size-mb'], 1000, 'size-mb'),
    runs: positive(values.runs, 3, 'runs'),
    ...(values.keep ? { keepDir: values.keep } : {}),
    prototype: values.prototype === true,
  };
}

async function runBenchmark(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  return runBench(progress, async ({ signal, cleanups }) => {
    const dataset = await prepareDataset({ sizeMb: options.sizeMb, ...(options.keepDir ? { keepDir: options.keepDir } : {}), progress });
    cleanups.push(dataset.close);
    signal.throwIfAborted();
    progress(`database: ${mb(dataset.sizeBytes)} MB on disk (${dataset.tables.map((t) => `${t.name} ${t.rows.toLocaleString('en')} rows`).join(', ')})`);
    const admin = await openAdmin(dataset.conn);
    cleanups.push(admin.close);
    // A killed earlier run (with --keep) may have left restored databases behind; so may this one.
    const leftovers = await admin.dropStartingWith([STRONGBOX_TARGET, PLAIN_TARGET]);
    if (leftovers.length > 0) progress(`dropped leftovers of an earlier run: ${leftovers.join(', ')}`);
    cleanups.push(async () => void (await admin.dropStartingWith([STRONGBOX_TARGET, PLAIN_TARGET])));
    const fixture = await setUpFixture(dataset, cleanups, progress, signal);
    signal.throwIfAborted();
    const variants = restoreVariants(dataset, fixture, admin, { prototype: options.prototype });

    // Warm-up, untimed: one plain restore; the server's and the page cache's state is then alike for every timed run.
    const warmUp = variants.find((variant) => variant.id === 'plain-folder');
    if (!warmUp) throw new Error('no plain-folder variant to warm up with');
    const warm = await warmUp.run(signal);
    progress(`warm-up \`${plainRestoreCommand(fixture.folder.dumpPath)}\`: ${seconds(warm.ms)} s`);

    const results: RestoreResult[] = variants.map((variant) => ({ variant, runs: [], cpuMs: [] }));
    for (let round = 1; round <= options.runs; round++) {
      for (const result of results) {
        signal.throwIfAborted();
        const rss = result.variant.strongbox ? sampleRss(100) : undefined;
        const cpuBefore = cpuTimeMs();
        const run = await result.variant.run(signal);
        const cpu = cpuTimeMs() - cpuBefore;
        const peak = rss?.stop();
        result.runs.push(run);
        result.cpuMs.push(cpu);
        if (peak !== undefined) result.peakRssBytes = Math.max(result.peakRssBytes ?? 0, peak);
        const phases = Object.entries(run.phases).map(([name, ms]) => `${name} ${seconds(ms)}`).join(', ');
        progress(`round ${round}/${options.runs} ${result.variant.label}: ${seconds(run.ms)} s (${phases}), CPU ${seconds(cpu)} s${peak !== undefined ? `, peak RSS ${mb(peak)} MB` : ''}`);
      }
    }
    process.stdout.write(await report(options, dataset, fixture, results));
  });
}

async function report(options: Options, dataset: BenchDataset, fixture: RestoreFixture, results: RestoreResult[]): Promise<string> {
  const dump = fixture.folder.manifest.objects.dump;
  return [
    '',
    `## Restore benchmark: ${mb(dataset.sizeBytes)} MB database, ${options.runs} interleaved runs per variant (medians)`,
    '',
    ...(await describeMachine(dataset.serverVersion)),
    `- pg_restore ${await toolVersion('pg_restore')}, --jobs ${JOBS} in every variant`,
    `- dataset: ${dataset.tables.map((t) => `${t.name} ${t.rows.toLocaleString('en')} rows`).join(', ')}${dataset.reused ? ' (reused)' : ''}`,
    `- restored: one Strongbox gzip backup per storage, dump ${mb(dump.bytes)} MB (repository folder), ${mb(fixture.s3.manifest.objects.dump.bytes)} MB (s3rver); backups took ${seconds(fixture.folder.backupMs)} s and ${seconds(fixture.s3.backupMs)} s`,
    '',
    resultsTable(results, dataset.sizeBytes),
    '',
    'Phases (median seconds; Strongbox from its report.steps, `other` = manifest read, target session, temporary folder):',
    '',
    phasesTable(results),
    '',
    ...goalLines(results, 'strongbox-folder', 'repository folder vs plain `createdb && pg_restore -j2`'),
    ...goalLines(results, 'strongbox-s3', 's3rver vs plain GetObject + `createdb && pg_restore -j2`'),
    ...(options.prototype ? goalLines(results, 'prototype-folder', 'prototype (no copy, SHA-256 beside pg_restore, counts on 2 sessions) vs the same plain restore') : []),
    `- peak RSS of the benchmark process during Strongbox runs: ${mb(Math.max(...results.map((r) => r.peakRssBytes ?? 0)))} MB (s3rver runs in a child process and is not counted)`,
    '',
  ].join('\n');
}

muteSdkNodeVersionWarning();
if (process.argv.slice(2).includes(S3RVER_CHILD_FLAG)) {
  await serveS3rverChild();
} else {
  process.exitCode = await runBenchmark(process.argv.slice(2));
}
