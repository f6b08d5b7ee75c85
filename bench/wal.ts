/**
 * `npm run bench:wal [-- --segments N --runs N --live-seconds N]`: the same real WAL
 * segments archived by Strongbox (repository folder, and s3rver in presign mode) and by
 * pgBackRest's archive-push (sync and async on a posix repository, async on an S3
 * repository in the same s3rver), in one run, interleaved;
 * then a live cluster under pgbench and bulk-INSERT load archiving through Strongbox and
 * through pgBackRest async, with the archive lag sampled. docs/benchmarks.md explains it.
 */
import { benchOptions, runBench } from './harness';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FolderStorage } from '../shared/adapters/storage/folder';
import { makeS3Client, S3Storage } from '../shared/adapters/storage/s3';
import type { WalCompression } from '../shared/domain/wal/keys';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../shared/local/dynalite-server';
import type { Log } from '../shared/ports';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { S3RVER_CREDENTIALS } from '../test/support/s3-server';
import { S3RVER_CHILD_FLAG, serveS3rverChild, startS3rverChild } from './s3rver-child';
import { archivePass } from './wal/drive';
import { initPgbench, runLive, type LiveResult } from './wal/live';
import { createPgbackrestRepo, pgbackrestVersion, type PgbackrestS3 } from './wal/pgbackrest';
import { startTlsProxy } from './wal/tls-proxy';
import { breakdownLine, RequestTimes } from './wal/breakdown';
import { printWalReport, S3_LIVE_LABEL, type BacklogResult } from './wal/report';
import { makeRecoveryDir, recoveryPass } from './wal/recovery';
import { makeFakeDataDir, prepareWalSource, type WalSource } from './wal/source';
import { startStrongboxArchiving, type StrongboxArchiving } from './wal/strongbox';

const USAGE = `usage: npm run bench:wal -- [--segments N] [--runs N] [--live-seconds N] [--no-live] [--no-recovery] [--only ID,...]
  --segments N      real 16 MiB segments in the backlog (default 48)
  --runs N          backlog passes of each archiver, interleaved; medians are reported (default 3)
  --live-seconds N  bulk-INSERT seconds of the live phase, after N/2 s of pgbench (default 30)
  --no-live         skip the live phase
  --no-recovery     skip the recovery phase (restore_command per segment)
  --only ID,...     archivers to run (backlog: pgbr-sync, pgbr-async, pgbr-s3-async, sbx-zstd, sbx-gzip, sbx-none, sbx-s3, sbx-s3-none, sbx-s3-held;
                    recovery: pgbr-get-sync, pgbr-get-async, sbx-fetch); default all`;

interface Options {
  segments: number;
  runs: number;
  liveSeconds: number;
  live: boolean;
  recovery: boolean;
  only?: Set<string>;
}

/** One archiver of the backlog measurement; prepare() gives a fresh, empty archive for one pass. */
interface Archiver {
  id: string;
  label: string;
  prepare(round: number, fakeDir: string): Promise<{ command: string; finish(): Promise<number>; breakdown?(): Promise<string> }>;
}

const progress = (line: string): void => void process.stderr.write(`[bench:wal] ${line}\n`);

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

interface Setup {
  archivers: Archiver[];
  folder: StrongboxArchiving;
  /** The presign setup over s3rver: its live run when `sbx-s3` is measured (capacity on the S3 path). */
  s3?: StrongboxArchiving;
  breakdowns: string[];
}

/** dynalite, the two Strongbox setups (folder and s3rver) and the pgBackRest archivers. */
async function setUpArchivers(source: WalSource, options: Options, withPgbackrest: boolean, cleanups: Array<() => Promise<void>>): Promise<Setup> {
  const dynalite = await startDynalite({});
  cleanups.push(dynalite.stop);
  await ensureCatalogTable(new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } }), LOCAL_TABLE);
  const catalog = localCatalog(dynalite.endpoint);
  const walCatalog = localWalCatalog(dynalite.endpoint);
  const requestTimes = new RequestTimes();
  const log = stderrLog(requestTimes);
  const rounds = Array.from({ length: options.runs }, (_, i) => i + 1);
  const compressions: WalCompression[] = ['zstd', 'gzip', 'none'];
  const folderDatabases = [...compressions.flatMap((c) => rounds.map((r) => `${c}-${r}`)), 'live'];
  const folderRoot = join(source.root, 'strongbox-folder');
  await mkdir(folderRoot);
  const folderStorage = new FolderStorage(join(folderRoot, 'home', 'repository'));
  const folder = await startStrongboxArchiving({ root: folderRoot, databases: folderDatabases, storage: folderStorage, storageConfig: { type: 'folder' }, catalog, walCatalog, catalogEndpoint: dynalite.endpoint, log });
  cleanups.push(folder.stop);

  const s3rver = await startS3rverChild();
  cleanups.push(s3rver.stop);
  progress(`s3rver child pid ${s3rver.pid} at ${s3rver.endpoint}`);
  // The endpoint presigns with the default credential chain, as it would in AWS.
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  const s3Storage = new S3Storage(makeS3Client({ endpoint: s3rver.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS }), s3rver.bucket);
  const s3Root = join(source.root, 'strongbox-s3');
  await mkdir(s3Root);
  const s3 = await startStrongboxArchiving({
    root: s3Root,
    databases: [...rounds.map((r) => `s3-${r}`), ...rounds.map((r) => `s3none-${r}`), ...rounds.map((r) => `s3held-${r}`), 's3-live'],
    storage: s3Storage,
    storageConfig: { type: 's3', bucket: s3rver.bucket, endpoint: s3rver.endpoint, forcePathStyle: true, region: 'us-east-1' },
    catalog,
    walCatalog,
    catalogEndpoint: dynalite.endpoint,
    log,
  });
  cleanups.push(s3.stop);

  const strongbox = (setup: StrongboxArchiving, id: string, label: string, database: (round: number) => string, compression: WalCompression, holdChecks = false): Archiver => ({
    id,
    label,
    async prepare(round) {
      const name = database(round);
      await setup.setCompression(name, compression);
      if (holdChecks) setup.holdChecks();
      return {
        command: setup.archiveCommand(name),
        async finish() {
          await setup.stopUploader(name);
          const checks = await setup.settle();
          if (checks.ran > 0) progress(`deferred checks after the pass (decoded SHA-256, off complete's path): ${checks.ran} in ${checks.busyMs} ms, ${(checks.busyMs / checks.ran).toFixed(1)} ms each`);
          return setup.storedBytes(name);
        },
        breakdown: async () => breakdownLine(`${label}, round ${round}`, await setup.uploaderLog(name), requestTimes.of(name)),
      };
    },
  });
  // pgBackRest's S3 repository on the same s3rver, through a TLS relay (it speaks HTTPS only).
  const tls = withPgbackrest ? await startTlsProxy(s3rver.endpoint) : undefined;
  if (tls) cleanups.push(tls.stop);
  const s3For = (path: string): PgbackrestS3 | undefined =>
    tls && {
      port: tls.port,
      bucket: s3rver.bucket,
      path,
      async list(prefix) {
        let total = 0;
        for await (const object of s3Storage.list(prefix)) total += object.size;
        return total;
      },
    };
  const pgbr = (id: string, label: string, async: boolean, onS3 = false): Archiver => ({
    id,
    label,
    async prepare(round, fakeDir) {
      const dir = join(source.root, `pgbackrest-${id}-${round}`);
      const repo = await createPgbackrestRepo(dir, source.cluster, { 'compress-type': 'zst', 'compress-level': '1' }, onS3 ? s3For(`pgbr-${id}-${round}`) : undefined);
      return {
        command: repo.archiveCommand({ async, pgPath: fakeDir }),
        async finish() {
          await repo.waitIdle();
          const bytes = await repo.storedBytes('archive');
          await rm(dir, { recursive: true, force: true });
          return bytes;
        },
      };
    },
  });
  const archivers: Archiver[] = [
    ...(withPgbackrest
      ? [
          pgbr('pgbr-sync', 'pgBackRest archive-push, sync (zst -1)', false),
          pgbr('pgbr-async', 'pgBackRest archive-push, async, process-max 2 (zst -1)', true),
          pgbr('pgbr-s3-async', 'pgBackRest archive-push, async, process-max 2 (zst -1) → s3rver (S3 repository, TLS relay)', true, true),
        ]
      : []),
    strongbox(folder, 'sbx-zstd', 'Strongbox → repository folder, zstd -1 (default)', (r) => `zstd-${r}`, 'zstd'),
    strongbox(folder, 'sbx-gzip', 'Strongbox → repository folder, gzip -1', (r) => `gzip-${r}`, 'gzip'),
    strongbox(folder, 'sbx-none', 'Strongbox → repository folder, no compression', (r) => `none-${r}`, 'none'),
    strongbox(s3, 'sbx-s3', 'Strongbox → s3rver (presigned PUT), zstd -1', (r) => `s3-${r}`, 'zstd'),
    strongbox(s3, 'sbx-s3-none', 'Strongbox → s3rver (presigned PUT), no compression', (r) => `s3none-${r}`, 'none'),
    // The deferred decoded checks held until the pass ends: in AWS they are the catalogIndex Lambda's CPU, off the database host.
    strongbox(s3, 'sbx-s3-held', 'Strongbox → s3rver (presigned PUT), zstd -1, deferred checks held to the pass end', (r) => `s3held-${r}`, 'zstd', true),
  ];
  return { archivers: archivers.filter((a) => !options.only || options.only.has(a.id)), folder, ...(!options.only || options.only.has('sbx-s3') ? { s3 } : {}), breakdowns: [] };
}

/** Every archiver archives the whole backlog once per round, interleaved. */
async function measureBacklog(source: WalSource, archivers: Archiver[], options: Options, signal: AbortSignal, breakdowns: string[]): Promise<BacklogResult[]> {
  const results: BacklogResult[] = archivers.map((a) => ({ id: a.id, label: a.label, passes: [] }));
  for (let round = 1; round <= options.runs; round++) {
    for (const [index, archiver] of archivers.entries()) {
      signal.throwIfAborted();
      const dir = join(source.root, `fake-${archiver.id}-${round}`);
      const fake = await makeFakeDataDir(source, dir);
      try {
        const run = await archiver.prepare(round, dir);
        const cpu = process.cpuUsage();
        const pass = await archivePass(run.command, fake, source.segments, signal);
        const used = process.cpuUsage(cpu);
        progress(`bench process CPU during the pass: ${((used.user + used.system) / 1000 / source.segments.length).toFixed(1)} ms per segment (user ${(used.user / 1000).toFixed(0)} ms, system ${(used.system / 1000).toFixed(0)} ms)`);
        const storedBytes = await run.finish();
        if (run.breakdown) breakdowns.push(await run.breakdown());
        results[index]?.passes.push({ ...pass, storedBytes });
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
    for (const [index, archiver] of archivers.entries()) {
      signal.throwIfAborted();
      const dir = join(source.root, `recovery-${archiver.id}-${round}`);
      await makeRecoveryDir(source, dir);
      try {
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

function stderrLog(requestTimes: RequestTimes): Log {
  const print = (level: string) => (message: string, attributes?: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  return { info: (message, attributes) => void (message === 'archive request' && attributes && requestTimes.record(attributes)), warn: print('WARN'), error: print('ERROR') };
}

muteSdkNodeVersionWarning();
if (process.argv.slice(2).includes(S3RVER_CHILD_FLAG)) {
  await serveS3rverChild();
} else {
  process.exitCode = await runBenchmark(process.argv.slice(2));
}
