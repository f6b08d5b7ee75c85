/**
 * After the faults: let archiving catch up (PostgreSQL's queue empty past the last segment
 * with data, every segment it marked done in the catalog, no backup RUNNING or UPLOADED),
 * restart `npm start` cleanly once (its start-up sweeps what killed writers left), settle
 * again, then run the checks and a `pitr --latest --start` compared with the source.
 * Every wait polls its condition against a deadline; none sleeps for a fixed time.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../../shared/ports/catalog';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { findBinDir, type LocalCluster } from '../../shared/adapters/postgres/cluster';
import { runAsServerUser } from '../../shared/adapters/postgres/process';
import type { PgConnection } from '../../shared/ports/postgres';
import { localCatalog, localWalCatalog } from '../../shared/local/context';
import { readLiveInstance, type HomePaths } from '../../shared/local/home';
import { checkBackups, checkSegments, leftoverTemp, reportedGaps, type BackupFigures, type Findings, type SegmentFigures } from './checks';
import type { StrongboxInstance } from './instance';
import { fingerprint, query } from './load';

/** What settling found. */
export interface Settled {
  ok: boolean;
  why?: string;
  seconds: number;
  /** The source's fingerprint, taken after the load stopped. */
  fingerprint: string;
}

/**
 * Marks the end, switches the segment, and waits (until `deadline`) for PostgreSQL's
 * queue to be empty past that segment, for the catalog to hold every segment PostgreSQL
 * marked done and for no backup to be RUNNING or UPLOADED; then restarts `npm start`
 * cleanly and waits for the same again.
 */
export async function settle(options: {
  instance: StrongboxInstance;
  cluster: LocalCluster;
  connection: PgConnection;
  database: string;
  paths: HomePaths;
  seed: number;
  deadline: number;
  progress(line: string): void;
  signal: AbortSignal;
}): Promise<Settled> {
  const started = Date.now();
  const { connection } = options;
  await query(connection, `INSERT INTO chaos_marker (note) VALUES ('end of seed ${options.seed}')`);
  const source = await fingerprint(connection);
  const last = (await query<{ name: string }>(connection, 'SELECT pg_walfile_name(pg_switch_wal()) AS name'))[0]!.name;
  options.progress(`settling: the data ends in ${last}; waiting for PostgreSQL's queue, the catalog and the backups`);
  const wait = async (phase: string): Promise<string | undefined> => {
    let why = '';
    while (Date.now() < options.deadline) {
      options.signal.throwIfAborted();
      why = await unsettled(options, last);
      if (!why) return undefined;
      await sleep(1000);
    }
    return `${phase}: ${why}`;
  };
  let why = await wait('before the clean restart');
  if (!why) {
    options.progress('settled; restarting npm start cleanly (its start-up sweeps unfinished writes)');
    await options.instance.stop();
    if (!(await options.instance.start())) why = 'npm start did not become ready after the clean restart';
    else why = await wait('after the clean restart');
  }
  return { ok: !why, ...(why ? { why } : {}), seconds: (Date.now() - started) / 1000, fingerprint: source };
}

async function unsettled(options: { instance: StrongboxInstance; connection: PgConnection; database: string; paths: HomePaths }, last: string): Promise<string> {
  if (!options.instance.pid) await options.instance.start();
  const [archiver] = await query<{ ready: string; last: string | null }>(
    options.connection,
    "SELECT (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready')::text AS ready, last_archived_wal AS last FROM pg_stat_archiver",
  );
  if (archiver?.ready !== '0' || !archiver.last || archiver.last < last) return `PostgreSQL has ${archiver?.ready} file(s) to archive, last archived ${archiver?.last}`;
  const endpoint = readLiveInstance(options.paths)?.catalogEndpoint;
  if (!endpoint) return 'npm start is not ready';
  try {
    const done = await query<{ name: string }>(options.connection, "SELECT left(name, 24) AS name FROM pg_ls_archive_statusdir() WHERE name ~ '^[0-9A-F]{24}[.]done$'");
    const walCatalog = localWalCatalog(endpoint);
    const recorded = new Set<string>();
    for (const t of await walCatalog.timelines(options.database)) for (const r of await walCatalog.listSegments(options.database, t.timeline)) recorded.add(r.name);
    const missing = done.filter((d) => !recorded.has(d.name)).length;
    if (missing) return `${missing} segment(s) archived by PostgreSQL not in the catalog yet`;
    const open = (await localCatalog(endpoint).listByDatabase(options.database, {})).filter((e) => e.state === 'RUNNING' || e.state === 'UPLOADED');
    if (open.length) return `${open.length} backup(s) still ${open.map((e) => e.state).join(', ')}`;
  } catch (error) {
    return `the catalog did not answer: ${(error as Error).message}`;
  }
  return '';
}

/** Everything checks.ts and the PITR found. */
export interface Verified {
  findings: Findings;
  segments: SegmentFigures;
  backups: BackupFigures;
  temp: { files: string[]; bytes: number };
  pitr: { ok: boolean; seconds?: number; fingerprint?: string; error?: string };
  status: { code: number | null; gaps: number };
}

/** Runs the checks, `status`, and `pitr --latest --start` into `pitrDir`. */
export async function verify(options: {
  instance: StrongboxInstance;
  walCatalog: WalCatalog;
  catalog: Catalog;
  repository: string;
  pgWal: string;
  database: string;
  pitrDir: string;
  sourceFingerprint: string;
  progress(line: string): void;
}): Promise<Verified> {
  const findings: Findings = { lost: [], misreported: [], leftBehind: [] };
  options.progress('checking every recorded segment against pg_wal');
  const segments = await checkSegments(options.walCatalog, options.repository, options.pgWal, options.database, findings);
  options.progress(`reading back the VERIFIED backups`);
  const backups = await checkBackups(await options.catalog.listByDatabase(options.database, {}), options.repository, findings);
  const temp = await leftoverTemp(options.repository);
  if (temp.files.length) findings.leftBehind.push(`${temp.files.length} partial file(s) in the repository's .tmp/ (${(temp.bytes / 1e6).toFixed(1)} MB) after a clean restart: ${temp.files.slice(0, 3).join(', ')}`);

  const statusRun = await options.instance.cli(['status', '--database', options.database, '--json'], 120_000);
  let gaps = 0;
  try {
    gaps = reportedGaps(JSON.parse(statusRun.stdout)).length;
  } catch {
    findings.misreported.push(`status --json printed no JSON (exit ${statusRun.code}): ${statusRun.stderr.trim().slice(-300)}`);
  }
  if (statusRun.code !== 0) findings.misreported.push(`status exited ${statusRun.code}: ${statusRun.stderr.trim().slice(-300)}`);
  if (gaps && !findings.lost.some((f) => f.includes('no catalog record'))) findings.misreported.push(`status reports ${gaps} WAL gap(s) where the catalog and PostgreSQL have none`);

  options.progress('pitr --latest --start into a new data directory');
  const pitr: Verified['pitr'] = { ok: false };
  const pitrRun = await options.instance.cli(['pitr', '--database', options.database, '--latest', '--pgdata', options.pitrDir, '--start', '--json', '--timeout', '1200'], 1_500_000);
  try {
    if (pitrRun.code !== 0) throw new Error(`exit ${pitrRun.code ?? pitrRun.signal}: ${(pitrRun.stdout + pitrRun.stderr).trim().slice(-600)}`);
    const result = JSON.parse(pitrRun.stdout) as { started?: { port: number; replaySeconds: number } };
    if (!result.started) throw new Error('the recovered server was not started');
    pitr.seconds = result.started.replaySeconds;
    pitr.fingerprint = await fingerprint({ host: '127.0.0.1', port: result.started.port, user: 'postgres', database: options.database });
    pitr.ok = pitr.fingerprint === options.sourceFingerprint;
    if (!pitr.ok) findings.lost.push(`pitr --latest recovered ${pitr.fingerprint}, the source holds ${options.sourceFingerprint}`);
  } catch (error) {
    pitr.error = (error as Error).message;
    findings.lost.push(`pitr --latest failed: ${pitr.error}`);
  } finally {
    await runAsServerUser(join(await findBinDir(), 'pg_ctl'), ['-D', options.pitrDir, '-m', 'immediate', '-w', 'stop'], { cwd: '/' }).catch(() => undefined);
  }
  return { findings, segments, backups, temp, pitr, status: { code: statusRun.code, gaps } };
}
