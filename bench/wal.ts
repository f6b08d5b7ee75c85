/**
 * `npm run bench:wal [-- --segments N --runs N --live-seconds N]`: the same real WAL
 * segments archived by Strongbox (repository folder, and s3rver in presign mode) and by
 * pgBackRest's archive-push (sync and async on a posix repository, async on an S3
 * repository in the same s3rver), in one run, interleaved;
 * then a live cluster under pgbench and bulk-INSERT load archiving through Strongbox and
 * through pgBackRest async, with the archive lag sampled. docs/benchmarks.md explains it.
 */
import { benchOptions, runBench } from './harness';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { S3RVER_CHILD_FLAG, serveS3rverChild } from './s3rver-child';
import { archivePass, flushPageCache, machineBusyMs } from './wal/drive';
import { initPgbench, runLive, type LiveResult } from './wal/live';
import { createPgbackrestRepo, pgbackrestVersion } from './wal/pgbackrest';
import { printWalReport, S3_LIVE_LABEL, type BacklogResult } from './wal/report';
import { makeRecoveryDir, recoveryPass } from './wal/recovery';
import { makeFakeDataDir, prepareWalSource, type WalSource } from './wal/source';
import { progress, setUpArchivers, type Archiver, type Options, type Setup } from './wal/archivers';

const USAGE = `usage: npm run bench:wal -- [--segments N] [--runs N] [--live-seconds N] [--no-live] [--no-recovery] [--only ID,...]
  --segments N      real 16 MiB segments in the backlog (default 48)
  --runs N          backlog passes of each archiver, interleaved; medians are reported (default 3)
  --live-seconds N  bulk-INSERT seconds of the live phase, after N/2 s of pgbench (default 30)
  --no-live         skip the live phase
  --no-recovery     skip the recovery phase (restore_command per segment)
  --only ID,...     archivers to run (backlog: pgbr-sync, pgbr-async, pgbr-s3-async, sbx-zstd, sbx-gzip, sbx-none, sbx-s3, sbx-s3-none, sbx-s3-held;
                    recovery: pgbr-get-sync, pgbr-get-async, sbx-fetch); default all`;


function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { segments: { type: 'string' }, runs: { type: 'string' }, 'live-seconds': { type: 'string' }, 'no-live': { type: 'boolean' }, 'no-recovery': { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean' } },
  });
  const positive = benchOptions(values.help, USAGE);
  return { segments: positive(values.segments, 48, 'segments'), runs: positive(values.runs, 3, 'runs'), liveSeconds: positive(values['live-seconds'], 30, 'live-seconds'), live: !values['no-live'], recovery: !values['no-recovery'], ...(values.only ? { only: new Set(values.only.split(',')) } : {}) };
}

async function runBenchmark(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  return runBench(progress, async ({ signal, cleanups }) => {
    const pgbackrest = await pgbackrestVersion();
    if (!pgbackrest) progress('pgbackrest is not installed (apt-get install pgbackrest): measuring Strongbox alone');
    const source = await prepareWalSource({ count: options.segments, progress });
    cleanups.push(source.close);
    signal.throwIfAborted();
    const setup = await setUpArchivers(source, options, pgbackrest !== undefined, cleanups);
    const backlog = await measureBacklog(source, setup.archivers, options, signal, setup.breakdowns);
    const recovery = options.recovery ? await measureRecovery(source, setup, options, pgbackrest !== undefined, signal) : [];
    const live = options.live ? await measureLive(source, setup, options, pgbackrest !== undefined, signal) : [];
    await printWalReport({ source, options, pgbackrest, backlog, recovery, live, bulkRateNoArchiving: source.bulkSegmentsPerSecond });
    process.stdout.write(['### Where a Strongbox push goes (per pass)', '', ...setup.breakdowns, ''].join('\n'));
  });
}


/** `items` rotated to start at item `round - 1` (round 1: as listed). */
function inTurn<T>(items: readonly T[], round: number): T[] {
  const start = (round - 1) % Math.max(1, items.length);
  return [...items.slice(start), ...items.slice(0, start)];
}

/**
 * Every archiver archives the whole backlog once per round, interleaved. A pass through
 * s3rver slows the next pass or two on this VM (measured: +20–30 ms of machine CPU a
 * segment, mostly system time, whichever archiver follows), so each round runs the
 * folder/posix archivers first and the S3 ones after, and each group starts one archiver
 * further down its list every round: over the rounds each local archiver follows an S3
 * pass as often as the other.
 */
async function measureBacklog(source: WalSource, archivers: Archiver[], options: Options, signal: AbortSignal, breakdowns: string[]): Promise<BacklogResult[]> {
  const results: BacklogResult[] = archivers.map((a) => ({ id: a.id, label: a.label, passes: [] }));
  for (let round = 1; round <= options.runs; round++) {
    const entries = [...archivers.entries()];
    for (const [index, archiver] of [...inTurn(entries.filter(([, a]) => !a.onS3), round), ...inTurn(entries.filter(([, a]) => a.onS3), round)]) {
      signal.throwIfAborted();
      const dir = join(source.root, `fake-${archiver.id}-${round}`);
      const fake = await makeFakeDataDir(source, dir);
      try {
        const run = await archiver.prepare(round, dir);
        await flushPageCache();
        const machine = await machineBusyMs();
        const cpu = process.cpuUsage();
        const pass = await archivePass(run.command, fake, source.segments, signal);
        // The catalog catching up is part of the pass's CPU (and reported apart from its time).
        const archivedAt = performance.now();
        await run.indexed?.();
        const indexedMs = run.indexed ? performance.now() - archivedAt : undefined;
        const used = process.cpuUsage(cpu);
        const machineMs = machine === undefined ? undefined : ((await machineBusyMs()) ?? machine) - machine;
        progress(
          `CPU during the pass${run.indexed ? ' and until the catalog caught up' : ''}, per segment: ${machineMs !== undefined ? `machine ${(machineMs / source.segments.length).toFixed(1)} ms, ` : ''}bench process ${((used.user + used.system) / 1000 / source.segments.length).toFixed(1)} ms (user ${(used.user / 1000).toFixed(0)} ms, system ${(used.system / 1000).toFixed(0)} ms in all)${indexedMs !== undefined ? `; catalog caught up ${indexedMs.toFixed(0)} ms after the last command` : ''}`,
        );
        const storedBytes = await run.finish();
        if (run.breakdown) breakdowns.push(await run.breakdown());
        results[index]?.passes.push({ ...pass, storedBytes, ...(indexedMs !== undefined ? { indexedMs } : {}) });
        progress(
          `round ${round}/${options.runs} ${archiver.label}: ${(pass.ms / 1000).toFixed(2)} s, ${((source.segments.length * 1000) / pass.ms).toFixed(1)} segments/s, stored ${(storedBytes / 1e6).toFixed(1)} MB${pass.failures ? `, ${pass.failures} failed commands retried (last: ${pass.lastFailure?.slice(-400)})` : ''}`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return results;
}

/**
 * The recovery phase: the segments restored one by one through each archiver's
 * restore_command (Strongbox from the archive its first zstd pass wrote; pgBackRest from a
 * repository filled by a sync archive-push), interleaved, a fresh data directory and empty
 * prefetch spools for every pass.
 */
async function measureRecovery(source: WalSource, setup: Setup, options: Options, withPgbackrest: boolean, signal: AbortSignal): Promise<BacklogResult[]> {
  const wanted = (id: string) => !options.only || options.only.has(id);
  const archivers: Array<{ id: string; label: string; command(dir: string): string; reset(): Promise<void> }> = [];
  if (withPgbackrest && (wanted('pgbr-get-sync') || wanted('pgbr-get-async'))) {
    const dir = join(source.root, 'pgbackrest-recovery');
    const repo = await createPgbackrestRepo(dir, source.cluster, { 'compress-type': 'zst', 'compress-level': '1' });
    const fill = join(source.root, 'fake-recovery-fill');
    progress('recovery phase: filling a pgBackRest repository (sync archive-push)');
    await archivePass(repo.archiveCommand({ async: false, pgPath: fill }), await makeFakeDataDir(source, fill), source.segments, signal);
    await rm(fill, { recursive: true, force: true });
    for (const async of [false, true]) {
      const id = async ? 'pgbr-get-async' : 'pgbr-get-sync';
      if (wanted(id)) archivers.push({ id, label: `pgBackRest archive-get, ${async ? 'async, process-max 2' : 'sync'}`, command: (pgPath) => repo.restoreCommand({ async, pgPath }), reset: repo.resetSpool });
    }
  }
  if (wanted('sbx-fetch') && (!options.only || options.only.has('sbx-zstd'))) {
    archivers.push({ id: 'sbx-fetch', label: 'Strongbox wal-fetch ← repository folder, zstd (prefetch 8)', command: () => setup.folder.restoreCommand('zstd-1'), reset: () => setup.folder.stopPrefetcher('zstd-1') });
  }
  const results: BacklogResult[] = archivers.map((a) => ({ id: a.id, label: a.label, passes: [] }));
  for (let round = 1; round <= options.runs; round++) {
    for (const [index, archiver] of inTurn([...archivers.entries()], round)) {
      signal.throwIfAborted();
      const dir = join(source.root, `recovery-${archiver.id}-${round}`);
      await makeRecoveryDir(source, dir);
      try {
        await flushPageCache();
        const pass = await recoveryPass(archiver.command(dir), dir, source, signal);
        results[index]?.passes.push({ ...pass, storedBytes: 0 });
        const waited = pass.perSegmentMs.reduce((sum, ms) => sum + ms, 0);
        progress(`recovery round ${round}/${options.runs} ${archiver.label}: ${(waited / source.segments.length).toFixed(1)} ms waited per segment${pass.failures ? `, ${pass.failures} failed commands retried (last: ${pass.lastFailure?.slice(-400)})` : ''}`);
      } finally {
        await archiver.reset();
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return results;
}

/** The live phase: Strongbox (folder, zstd; then s3rver when sbx-s3 is measured), then pgBackRest async, each under the same load. */
async function measureLive(source: WalSource, setup: Setup, options: Options, withPgbackrest: boolean, signal: AbortSignal): Promise<Array<{ label: string; result: LiveResult }>> {
  progress('live phase: pgbench -i -s 10');
  await initPgbench(source.cluster, 10);
  const load = { pgbenchSeconds: Math.max(5, Math.round(options.liveSeconds / 2)), bulkSeconds: options.liveSeconds, segmentBytes: source.segmentBytes, signal };
  const results: Array<{ label: string; result: LiveResult }> = [];
  progress(`live phase: Strongbox → repository folder (zstd), pgbench ${load.pgbenchSeconds} s then bulk INSERT ${load.bulkSeconds} s`);
  try {
    results.push({ label: 'Strongbox → repository folder, zstd', result: await runLive(source.cluster, setup.folder.archiveCommand('live'), load) });
  } finally {
    await setup.folder.stopUploader('live');
  }
  if (setup.s3) {
    progress(`live phase: Strongbox → s3rver (presign, zstd), pgbench ${load.pgbenchSeconds} s then bulk INSERT ${load.bulkSeconds} s`);
    try {
      results.push({ label: S3_LIVE_LABEL, result: await runLive(source.cluster, setup.s3.archiveCommand('s3-live'), load) });
    } finally {
      await setup.s3.stopUploader('s3-live');
    }
  }
  if (withPgbackrest) {
    const dir = join(source.root, 'pgbackrest-live');
    const repo = await createPgbackrestRepo(dir, source.cluster, { 'compress-type': 'zst', 'compress-level': '1' });
    progress('live phase: pgBackRest archive-push async, process-max 2');
    results.push({ label: 'pgBackRest archive-push async, process-max 2', result: await runLive(source.cluster, repo.archiveCommand({ async: true }), load) });
    await repo.waitIdle();
  }
  return results;
}


muteSdkNodeVersionWarning();
if (process.argv.slice(2).includes(S3RVER_CHILD_FLAG)) {
  await serveS3rverChild();
} else {
  process.exitCode = await runBenchmark(process.argv.slice(2));
}
