/**
 * `npm run chaos [-- --minutes N --seed S]`: a local Strongbox (`node dist/cli.js start`
 * as a child, its own home under a temporary folder) with a real PostgreSQL archiving
 * through it under load, and faults injected at random moments from the seed (faults.ts)
 * for N minutes; then archiving settles and the run checks that nothing was lost,
 * misreported or left behind (checks.ts). Exit 0 clean, 1 a finding (or a failure), 130
 * interrupted. docs/reliability.md explains it and holds the figures.
 */
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { LocalCluster } from '../../shared/adapters/postgres/cluster';
import { localCatalog, localWalCatalog } from '../../shared/local/context';
import { readLiveInstance, resolveHome } from '../../shared/local/home';
import { walHostPaths } from '../../shared/local/wal-paths';
import { muteSdkNodeVersionWarning } from '../../shared/runtime/node-warnings';
import { runBench } from '../harness';
import { chownToServer } from '../wal/source';
import { injectFaults, seededRandom } from './faults';
import { StrongboxInstance } from './instance';
import { prepareLoad, query, startLoad } from './load';
import { OwnedProcesses, signalOwned } from './procs';
import { printReport } from './report';
import { settle, verify } from './verify';

const run = promisify(execFile);

const USAGE = `usage: npm run chaos -- [--minutes N] [--seed S] [--settle-minutes N]
  --minutes N         minutes of faults under load (default 3)
  --seed S            the seed of the faults' moments and kinds (default: random; printed to repeat a run)
  --settle-minutes N  how long archiving and the catalog get to settle afterwards (default 15)`;

const DATABASE = 'chaos';
/** The repository's own filesystem (a tmpfs when this runs as root): room for the run's WAL and backups, filled by the disk-full fault. */
const DISK_SIZE = '6g';

const progress = (line: string): void => void process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function parseOptions(argv: string[]): { minutes: number; seed: number; settleMinutes: number } {
  const { values } = parseArgs({ args: argv, options: { minutes: { type: 'string' }, seed: { type: 'string' }, 'settle-minutes': { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const number = (text: string | undefined, fallback: number, name: string, min: number) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}\n${USAGE}`);
    return value;
  };
  const seed = number(values.seed, randomInt(0, 2 ** 31), 'seed', 0);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be a whole number\n${USAGE}`);
  return { minutes: number(values.minutes, 3, 'minutes', 0.1), seed, settleMinutes: number(values['settle-minutes'], 15, 'settle-minutes', 1) };
}

async function chaos(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  let verdict = 0;
  const code = await runBench(progress, async ({ signal, cleanups }) => {
    progress(`seed ${options.seed}, ${options.minutes} min of faults (repeat with --seed ${options.seed})`);
    const root = await mkdtemp(join(tmpdir(), 'strongbox-chaos-'));
    await chownToServer(root);
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const owned = new OwnedProcesses(root);
    owned.watch();
    cleanups.push(async () => {
      owned.unwatch();
      for (const p of await owned.leftovers()) await signalOwned(p, 'SIGKILL');
    });

    const diskDir = join(root, 'disk');
    await mkdir(diskDir);
    const disk = await mountSmallDisk(diskDir);
    if (disk) cleanups.push(() => run('umount', ['-l', diskDir]).then(() => undefined));
    else progress('not root (or mount refused): no disk-full faults, the repository is on the temporary folder');
    const repository = join(diskDir, 'repository');
    const home = join(root, 'home');
    const paths = resolveHome({ STRONGBOX_HOME: home }, root);
    const host = walHostPaths(paths, DATABASE);

    progress('creating the source cluster (archive_timeout 5 s, every segment kept in pg_wal)');
    const cluster = await LocalCluster.create({
      dataDir: join(root, 'data'),
      settings: { wal_level: 'replica', archive_mode: 'on', archive_command: host.archiveCommand, archive_timeout: '5s', wal_keep_size: '64GB', max_wal_size: '1GB', max_wal_senders: '4' },
    });
    cleanups.push(() => cluster.destroy());
    await cluster.createDatabase(DATABASE);
    const connection = cluster.connection(DATABASE);
    const configPath = join(root, 'strongbox.config.json');
    const config = {
      databases: [{ name: DATABASE, url: `postgresql://postgres@127.0.0.1:${connection.port}/${DATABASE}` }],
      storage: { type: 'folder', path: repository },
      staleAfterSeconds: 60,
      watchdogSchedule: 'rate(1 minute)',
      stopWaitSeconds: 30,
    };
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, STRONGBOX_HOME: home, STRONGBOX_CONFIG: configPath };
    delete env.DATABASE_URL;
    const instance = new StrongboxInstance({ cwd: root, env, logFile: join(root, 'npm-start.log') });
    cleanups.push(() => instance.stop(30_000));
    // Before npm start: its catch-up backup's snapshot and pgbench -i's ALTER TABLE deadlock unseen (docs/reliability.md).
    progress('pgbench -i -s 5 and the load tables');
    await prepareLoad(connection, 5);
    progress('starting npm start (catch-up logical and base backups)');
    if (!(await instance.start())) throw new Error(`npm start did not become ready; its log: ${root}/npm-start.log`);

    const load = startLoad(connection, { rate: 20, maxPauseMs: 1500, random: seededRandom(options.seed ^ 0x5bd1e995) });
    let loadStats: Awaited<ReturnType<typeof load.stop>> | undefined;
    cleanups.push(async () => void (loadStats ??= await load.stop()));
    const startLsn = await walPosition(connection);
    progress(`faults for ${options.minutes} min under load`);
    const counts = await injectFaults(
      { instance, owned, spool: host.spool, marker: root, database: DATABASE, ...(disk ? { disk: { mount: diskDir, ballast: join(diskDir, 'ballast') } } : {}), progress },
      seededRandom(options.seed),
      Date.now() + options.minutes * 60_000,
      signal,
    );
    loadStats = await load.stop();
    signal.throwIfAborted();
    const walWritten = (await walPosition(connection)) - startLsn;

    const settled = await settle({ instance, cluster, connection, database: DATABASE, paths, seed: options.seed, deadline: Date.now() + options.settleMinutes * 60_000, progress, signal });
    const endpoint = readLiveInstance(paths)?.catalogEndpoint;
    if (!endpoint) throw new Error('npm start is not running after the run settled');
    const result = await verify({
      instance,
      walCatalog: localWalCatalog(endpoint),
      catalog: localCatalog(endpoint),
      repository,
      pgWal: join(cluster.dataDir, 'pg_wal'),
      database: DATABASE,
      pitrDir: join(root, 'pitr'),
      sourceFingerprint: settled.fingerprint,
      progress,
    });
    if (!settled.ok) result.findings.misreported.push(`archiving did not settle within ${options.settleMinutes} min: ${settled.why}`);

    progress('stopping npm start and the cluster; every process of the run must end on its own');
    await instance.stop();
    await cluster.stop('fast');
    const leftovers = await waitForLeftovers(owned, 60_000);
    for (const p of leftovers) result.findings.leftBehind.push(`process ${p.pid} still running 60 s after its cluster and npm start stopped: ${p.cmdline.slice(0, 160)}`);

    verdict = printReport({ seed: options.seed, minutes: options.minutes, counts, instance, load: loadStats, walSegments: walWritten / (16 * 1024 * 1024), disk: disk !== undefined, settleSeconds: settled.seconds, ...result });
  });
  return code === 0 ? verdict : code;
}

/** A tmpfs of DISK_SIZE at `dir` (root only), or undefined. */
async function mountSmallDisk(dir: string): Promise<true | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${DISK_SIZE},mode=0755`, 'tmpfs', dir]);
    return true;
  } catch {
    return undefined;
  }
}

async function walPosition(connection: ReturnType<LocalCluster['connection']>): Promise<number> {
  const rows = await query<{ lsn: string }>(connection, "SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn");
  return Number(rows[0]?.lsn ?? 0);
}

async function waitForLeftovers(owned: OwnedProcesses, limitMs: number) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const alive = await owned.leftovers();
    if (!alive.length || Date.now() > deadline) return alive;
    await new Promise((done) => setTimeout(done, 500));
  }
}

muteSdkNodeVersionWarning();
process.exitCode = await chaos(process.argv.slice(2));
