/**
 * `npm run bench:drill [-- --size-mb N --wal-minutes N --runs N]`: the physical drill
 * (`validate --pitr`) on a pgbench database with pgbench WAL, split into fetch, replay,
 * comparison and amcheck, against a plain `pg_basebackup` tar untarred and replayed by
 * PostgreSQL with `cp` from a local copy of the same WAL to the same LSN, in the same run,
 * interleaved. docs/benchmarks.md explains it.
 */
import { mkdtemp, rm, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toolEnv } from '../shared/adapters/postgres/tool-stream';
import { pgBaseBackupTools } from '../shared/adapters/postgres/basebackup';
import { parseManifest } from '../shared/domain/manifest';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { pgDumpTools } from '../shared/runtime/dump-tools';
import { pgDrillReader, pgScratchServer } from '../shared/runtime/scratch-tools';
import { STRONGBOX_VERSION } from '../shared/runtime/version';
import { runLogicalBackup } from '../shared/usecases/backup';
import { runBaseBackup } from '../shared/usecases/base-backup';
import { warmWalFetch } from '../shared/local/warm-wal';
import { runPitrDrill, type DrillPhase, type PitrDrillReport } from '../shared/usecases/pitr-drill';
import { benchOptions, runBench } from './harness';
import { markdownTable, median } from './measure';
import { describeMachine } from './report';
import { BENCH_DATABASE, startDrillStack } from './drill/stack';
import { plainBaseBackup, plainRecovery, plainRestoreCommand } from './drill/plain';
import { cpuJiffies, cpuSecondsOf, describeProfile, profiledCommand, readProfile, serverCpuOf, writeProfileWrapper } from './drill/profile';
import { chownToServer } from './wal/source';
import { runShell } from './wal/shell';
import { DISK_FLOOR_BYTES, pgbenchLoad, type LoadResult } from './drill/load';

const USAGE = `usage: npm run bench:drill -- [--size-mb N] [--wal-minutes N] [--runs N]
  --size-mb N      pgbench database size in MB, about (default 1000)
  --wal-minutes N  minutes of pgbench load (-c 4) between the base backup and the logical backup (default 60;
                   it stops early to keep 16 GiB free: unthrottled, ~2 GB of WAL a minute on 2 cores)
  --runs N         runs of each variant, interleaved; medians are reported (default 1)
  --cold           no warm start of the WAL prefetcher (as before it existed: for a before/after)
  --profile        log every restore_command call of both variants (wall time, what the prefetcher
                   had ready) and the CPU: the replay split into waiting and replaying`;

const progress = (line: string): void => void process.stderr.write(`[bench:drill] ${line}\n`);

interface Options {
  sizeMb: number;
  walMinutes: number;
  runs: number;
  profile: boolean;
  cold: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({ args: argv, options: { 'size-mb': { type: 'string' }, 'wal-minutes': { type: 'string' }, runs: { type: 'string' }, profile: { type: 'boolean' }, cold: { type: 'boolean' }, help: { type: 'boolean' } } });
  const positive = benchOptions(values.help, USAGE);
  return { sizeMb: positive(values['size-mb'], 1000, 'size-mb'), walMinutes: positive(values['wal-minutes'], 60, 'wal-minutes'), runs: positive(values.runs, 1, 'runs'), profile: values.profile === true, cold: values.cold === true };
}

async function runBenchmark(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  return runBench(progress, async ({ signal, cleanups }) => {
    const work = await mkdtemp(join(tmpdir(), 'strongbox-bench-drill-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    await chownToServer(work);
    const stack = await startDrillStack(work, cleanups);
    const conn = stack.cluster.connection();
    const { context } = stack;
    const scale = Math.max(1, Math.round(options.sizeMb / 15));
    progress(`pgbench -i -s ${scale}`);
    await runShell(`pgbench -i -s ${scale} -q postgres`, toolEnv(conn), signal);
    const dbBytes = Number(await stack.cluster.psql('SELECT pg_database_size(current_database());'));
    progress(`database: ${(dbBytes / 1e6).toFixed(0)} MB; base backups (Strongbox's, then the plain tar)`);
    const base = await runBaseBackup(
      { storage: context.storage, catalog: context.catalog, alerts: context.alerts, log: context.log, clock: context.clock, tools: pgBaseBackupTools, version: STRONGBOX_VERSION },
      { database: BENCH_DATABASE, connection: conn, tier: 'daily', compression: 'zstd', runner: `pid:${process.pid}` },
    );
    if (base.state !== 'VERIFIED') throw new Error(`the base backup is ${base.state}: ${base.reason ?? ''}`);
    const tar = join(work, 'plain-base.tar');
    await plainBaseBackup(conn, tar);
    const walStart = await stack.cluster.psql('SELECT pg_current_wal_lsn();');
    progress(`pgbench -c 4 -j 2 for ${options.walMinutes} min, a minute at a time (it stops early to keep ${DISK_FLOOR_BYTES / 1024 ** 3} GiB free)`);
    const load = await pgbenchLoad({ minutes: options.walMinutes, work, env: toolEnv(conn), database: 'postgres', signal, progress });
    const logical = await runLogicalBackup(
      { storage: context.storage, catalog: context.catalog, alerts: context.alerts, log: context.log, clock: context.clock, tools: pgDumpTools, version: STRONGBOX_VERSION, heartbeatMs: 5000, staleAfterMs: 600_000 },
      { database: BENCH_DATABASE, connection: conn, tier: 'daily', compression: 'zstd', includeRolePasswords: false, runner: `pid:${process.pid}` },
    );
    if (logical.state !== 'VERIFIED') throw new Error(`the logical backup is ${logical.state}: ${logical.reason ?? ''}`);
    const manifest = parseManifest((await context.storage.getBytes(logical.manifestKey)).toString(), logical.manifestKey);
    const instant = manifest.source.snapshot;
    if (instant?.method !== 'logical-slot') throw new Error(`the logical backup has no exact instant (${instant?.method ?? 'none'})`);
    await stack.cluster.psql('CREATE TABLE after_backup AS SELECT 1 AS x;');
    const last = await stack.switchAndWait();
    await waitForPlainCopy(stack.plainArchive, last);
    const walBytes = (await readdir(stack.plainArchive)).length * 16 * 1024 * 1024;
    progress(`WAL from ${walStart.trim()} to the instant ${instant.lsn}: ${(walBytes / 1e6).toFixed(0)} MB archived; ${options.runs} run(s) of each variant`);

    const strongbox: PitrDrillReport[] = [];
    const plain: Array<{ untarSeconds: number; replaySeconds: number }> = [];
    const profiles: string[] = [];
    const wrapper = options.profile ? await writeProfileWrapper(work) : undefined;
    for (let round = 1; round <= options.runs; round++) {
      signal.throwIfAborted();
      const log = join(work, `profile-strongbox-${round}.log`);
      const restoreCommand = wrapper ? await profiledCommand(wrapper, log, stack.spool, stack.restoreCommand) : stack.restoreCommand;
      const cpu: Parameters<typeof readProfile>[1] = { from: cpuJiffies(), to: cpuJiffies() };
      const benchCpu = process.cpuUsage();
      let extra: Parameters<typeof readProfile>[2] = {};
      const onPhase = async (phase: DrillPhase) => {
        if (phase !== 'compare') return;
        cpu.to = cpuJiffies();
        cpu.pausedAtMs = Date.now();
        const used = process.cpuUsage(benchCpu);
        const scratch = (await readdir(work)).find((name) => name.startsWith('strongbox-scratch-'));
        extra = { benchCpuSeconds: (used.user + used.system) / 1e6, prefetcherCpuSeconds: await cpuSecondsOf(join(stack.spool, 'prefetcher.pid')), server: scratch ? await serverCpuOf(join(work, scratch, 'data')) : undefined };
      };
      const report = await runPitrDrill({ ...context, server: pgScratchServer, reader: pgDrillReader, tmpDir: work }, { to: logical.id, database: BENCH_DATABASE, restoreCommand: () => restoreCommand, ...(options.cold ? {} : { warmWal: warmWalFetch(context.paths, context.log) }), signal, onPhase: (phase) => void onPhase(phase) });
      if (!report.ok) throw new Error(`the drill failed: ${report.reason ?? ''}`);
      strongbox.push(report);
      progress(`round ${round} Strongbox drill: fetch ${report.split.fetch} s, replay ${report.split.replay} s, compare ${report.split.compare} s, amcheck ${report.split.amcheck} s`);
      if (wrapper) profiles.push(describeProfile(`round ${round} Strongbox (fetch + replay)`, report.split.replay, await readProfile(log, cpu, extra)));
      signal.throwIfAborted();
      const plainLog = join(work, `profile-plain-${round}.log`);
      const plainCommand = wrapper ? await profiledCommand(wrapper, plainLog, undefined, plainRestoreCommand(stack.plainArchive)) : undefined;
      const plainCpu: Parameters<typeof readProfile>[1] = { from: cpuJiffies(), to: cpuJiffies() };
      const plainBench = process.cpuUsage();
      let plainExtra: Parameters<typeof readProfile>[2] = {};
      const onPaused = async (dataDir: string) => {
        plainCpu.to = cpuJiffies();
        plainCpu.pausedAtMs = Date.now();
        const used = process.cpuUsage(plainBench);
        plainExtra = { benchCpuSeconds: (used.user + used.system) / 1e6, server: await serverCpuOf(dataDir) };
      };
      const run = await plainRecovery({ file: tar, work, archive: stack.plainArchive, lsn: instant.lsn, timeoutMs: 6 * 3600_000, ...(plainCommand ? { restoreCommand: plainCommand, onPaused } : {}) });
      plain.push(run);
      progress(`round ${round} plain: untar ${run.untarSeconds.toFixed(2)} s, replay ${run.replaySeconds.toFixed(2)} s`);
      if (wrapper) profiles.push(describeProfile(`round ${round} plain (untar + replay)`, run.replaySeconds, await readProfile(plainLog, plainCpu, plainExtra)));
      for (const line of profiles.slice(-2)) progress(line);
    }
    const serverVersion = (await stack.cluster.psql('SHOW server_version;')).trim();
    process.stdout.write(await report(options, load, serverVersion, dbBytes, walBytes, (await stat(tar)).size, manifest.tables.length, strongbox, plain));
    if (profiles.length > 0) process.stdout.write(['', '## profile (--profile)', '', ...profiles, ''].join('\n'));
  });
}

async function waitForPlainCopy(folder: string, name: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!(await readdir(folder)).includes(name)) {
    if (Date.now() > deadline) throw new Error(`${name} was not copied to the plain archive`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function report(
  options: Options,
  load: LoadResult,
  serverVersion: string,
  dbBytes: number,
  walBytes: number,
  tarBytes: number,
  tables: number,
  strongbox: PitrDrillReport[],
  plain: Array<{ untarSeconds: number; replaySeconds: number }>,
): Promise<string> {
  const m = (values: number[]) => median(values);
  const fetch = m(strongbox.map((r) => r.split.fetch));
  const replay = m(strongbox.map((r) => r.split.replay));
  const compare = m(strongbox.map((r) => r.split.compare));
  const amcheck = m(strongbox.map((r) => r.split.amcheck));
  const untar = m(plain.map((r) => r.untarSeconds));
  const plainReplay = m(plain.map((r) => r.replaySeconds));
  const rto = fetch + replay;
  const plainRto = untar + plainReplay;
  const f = (s: number) => s.toFixed(2);
  const table = markdownTable(
    ['variant', 'fetch / untar s', 'replay s', 'recovery (RTO) s', 'ratio', 'compare s', 'amcheck s', 'whole drill s'],
    [
      ['plain `pg_basebackup -Ft` tar on local disk, untar, replay with `cp` from local WAL', f(untar), f(plainReplay), f(plainRto), '1.00', '-', '-', '-'],
      ['Strongbox `validate --pitr` (storage → SHA-256 → zstd → tar; wal-fetch through the endpoint)', f(fetch), f(replay), f(rto), (rto / plainRto).toFixed(2), f(compare), f(amcheck), f(rto + compare + amcheck)],
    ],
  );
  const machine = await describeMachine(serverVersion);
  return [
    `# bench:drill — ${options.sizeMb} MB pgbench database, ${load.minutes} min of pgbench -c 4 WAL${load.stoppedWithFreeBytes !== undefined ? ` (of ${options.walMinutes} asked: stopped to keep the disk from filling)` : ''}, ${options.runs} run(s), medians`,
    '',
    ...machine,
    `database ${(dbBytes / 1e6).toFixed(0)} MB; plain base tar ${(tarBytes / 1e6).toFixed(0)} MB; WAL archived ${(walBytes / 1e6).toFixed(0)} MB; ${tables} tables compared (rows + checksum)`,
    '',
    table,
    '',
    `goal: recovery ≤ 1.2 × plain — measured ${(rto / plainRto).toFixed(2)} ×`,
    '',
  ].join('\n');
}

muteSdkNodeVersionWarning();
process.exitCode = await runBenchmark(process.argv.slice(2));
