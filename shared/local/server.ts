import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { deadmanHandler } from '../../functions/deadman';
import { reconcileHandler } from '../../functions/reconcile';
import { retentionHandler } from '../../functions/retention';
import { scheduleBackupHandler } from '../../functions/schedule-backup';
import { watchdogHandler } from '../../functions/watchdog';
import type { LocalCluster } from '../adapters/postgres/cluster';
import type { PgConnection } from '../ports/postgres';
import { logMetrics } from '../adapters/metrics/log-metrics';
import { redactConnection } from '../domain/connection';
import { DEFAULT_DEADMAN_POLICY, schedulesFor } from '../domain/deadman';
import { retentionPolicyFromConfig } from '../domain/retention';
import { catchUpTier } from '../domain/schedule';
import { DEFAULT_VERIFY_POLICY } from '../domain/unverified';
import schedules from '../../deploy/schedules.json';
import { StrongboxError } from '../errors';
import type { AlertPublisher, Log } from '../ports';
import { loadConfig } from './config-file';
import { LOCAL_TABLE, openLocalContext } from './context';
import { DEMO_DATABASE, resolveDatabase } from './databases';
import { configureDemoArchiving, demoClusterAnnouncement, demoPsqlCommand, ensureDemoCluster } from './demo-cluster';
import { startLocalArchiving } from './archiving';
import { pgWalServer } from '../adapters/postgres/wal-server';
import { runWalCheckpoint } from '../usecases/wal-checkpoint';
import { readArchivedHistory } from '../usecases/wal-history';
import { clearInstance, readLiveInstance, resolveHome, writeInstance } from './home';
import { localReverifier, SERVER_WAL_INDEX_WINDOW } from './object-events';
import { ProcessTaskLauncher } from './process-launcher';
import { localProcesses } from './processes';
import { sweepUnfinishedQuietly } from '../usecases/unfinished-writes';
import { startScheduler, type ScheduledJob } from './scheduler';
import { localDrillJobs } from './drill-jobs';
import { drainAndStop, type RunningParts } from './shutdown';

export interface LocalServer {
  /** Resolves once everything is stopped (after `stop()` or a signal). */
  stopped: Promise<void>;
  /**
   * Drains, then stops (shutdown.ts): running backups get `stopWaitSeconds` to finish. A
   * second call (a second Ctrl-C) cuts the wait: running backups are stopped at once.
   * `why` is said in the first line (the signal, or stdout gone).
   */
  stop(why?: string): Promise<void>;
}

/**
 * `npm start`: local mode. Uses DATABASE_URL or the configured databases, or creates a
 * throwaway cluster with sample data; runs the schedules of serverless.yml in-process
 * (dump tasks as child processes), catches up at once on a tier with no recent backup,
 * and records itself in the home so that CLI commands share its catalog.
 * `say` prints the human report (where things are, what happens next).
 */
export async function startLocalServer(options: {
  env: NodeJS.ProcessEnv;
  cwd: string;
  log: Log;
  say: (line: string) => void;
  /** Where alerts are shown (default: JSON lines on stderr). */
  alertsConsole?: AlertPublisher;
  /** Says the steps of stopping (stderr: still there when stdout's reader is gone). Default: `say`. */
  note?: (line: string) => void;
  /** Aborts the start (Ctrl-C while starting): what was started is stopped, and the start rejects. */
  signal?: AbortSignal;
  /** Cuts the wait for running backups of a stop that began while starting (a second Ctrl-C). */
  cut?: AbortSignal;
}): Promise<LocalServer> {
  const { env, cwd, log, say } = options;
  const note = options.note ?? say;
  const checkAborted = () => options.signal?.throwIfAborted();
  const paths = resolveHome(env, cwd);
  const running = readLiveInstance(paths);
  if (running) {
    throw new StrongboxError('ALREADY_STARTED', `Strongbox is already running for ${paths.root} (pid ${running.pid})`, 'use the CLI beside it (`npx strongbox list`), or stop it with Ctrl-C first');
  }
  const { config, path: configPath } = loadConfig(env, cwd);
  const context = await openLocalContext({ paths, storage: config.storage, alertsConfig: config.alerts, env, log, walIndexWindow: SERVER_WAL_INDEX_WINDOW, ...(options.alertsConsole ? { alertsConsole: options.alertsConsole } : {}) });
  let cluster: LocalCluster | undefined;
  let demoConnection: PgConnection | undefined;
  // What is running, for drainAndStop; each part is set once it is started.
  const parts: RunningParts = { reports: new Set(), closeCatalog: context.close, catalog: context.catalog, clock: context.clock };
  const cut = new AbortController();
  let stopping: Promise<void> | undefined;
  const cutWait = options.cut ? AbortSignal.any([cut.signal, options.cut]) : cut.signal;
  // A drill running when Strongbox stops is interrupted (it removes its scratch and records nothing).
  let abortDrills: (() => void) | undefined;
  const shutdown = () => {
    abortDrills?.();
    return (stopping ??= drainAndStop(parts, { waitMs: config.stopWaitSeconds * 1000, cut: cutWait, note, log }));
  };
  try {
    writeInstance(paths, { pid: process.pid, catalogEndpoint: context.catalogEndpoint, tableName: LOCAL_TABLE, startedAt: new Date().toISOString() });
    parts.clearInstance = () => clearInstance(paths);
    const names = config.databases.map((database) => database.name);
    if (!names.length && env.DATABASE_URL) names.push(resolveDatabase({}, config, env, paths).name);
    if (!names.length) {
      say(demoClusterAnnouncement(paths));
      checkAborted();
      const demo = await ensureDemoCluster(paths, log);
      cluster = demo.cluster;
      demoConnection = demo.connection;
      parts.cluster = demo.cluster;
      names.push(DEMO_DATABASE);
    }
    checkAborted();
    const targets = names.map((name) => ({ name, target: resolveDatabase({ name }, config, env, paths) }));
    const distDir = dirname(fileURLToPath(import.meta.url));
    const archiving = await startLocalArchiving({ context, storage: config.storage, env, databases: names, bundle: join(distDir, 'wal.js') });
    parts.archiving = archiving;
    if (cluster) await configureDemoArchiving(cluster, archiving.hosts.get(DEMO_DATABASE)!.archiveCommand, log);

    const launcher = new ProcessTaskLauncher({
      program: join(distDir, 'task-dump.js'),
      logDir: paths.logs,
      env: { ...env, STRONGBOX_HOME: paths.root, ...(configPath ? { STRONGBOX_CONFIG: configPath } : {}) },
      onExit: (request, code) => {
        // Tracked, so that stopping waits for the report before it closes the catalog.
        const report = context.catalog
          .get(request.backupId)
          .then((entry) => {
            const state = entry?.state ?? 'unknown';
            say(`${new Date().toISOString()} backup ${request.backupId} of ${request.database} (${request.tier}): ${state}${entry?.reason ? ` (${entry.reason})` : ''} [exit ${code}]`);
          })
          .catch((error: unknown) => log.warn('could not read the finished backup', { backupId: request.backupId, error: (error as Error).message }))
          .finally(() => parts.reports.delete(report));
        parts.reports.add(report);
      },
    });
    parts.launcher = launcher;
    const schedule = scheduleBackupHandler({ ...context, launcher });
    const watchdog = watchdogHandler({ ...context, reverifier: localReverifier(context) }, config.staleAfterSeconds * 1000, { ...DEFAULT_VERIFY_POLICY, verifyWithinMs: config.verifyWithinSeconds * 1000 });
    // The retention function's daily sweep, in-process (in AWS: its EventBridge rule). The
    // policy is checked when it runs: a bad one alerts RETENTION_FAILED and deletes nothing.
    const retention = retentionHandler({ ...context, processes: localProcesses, staleAfterMs: config.staleAfterSeconds * 1000 }, () => retentionPolicyFromConfig(config.retention));
    // The monthly drills, as the dispatcher starts them in AWS (drill-jobs.ts): a restore drill and a physical drill per database.
    const drills = localDrillJobs({ context, databases: targets.map(({ name }) => name), expression: schedules.validation, say });
    abortDrills = drills.abort;
    // The dead man's switch, hourly (in AWS: the deadman function); it expects the monthly drills too.
    const deadman = deadmanHandler(
      { ...context, metrics: logMetrics(log) },
      {
        schedules: schedulesFor(
          targets.map(({ name }) => ({ name, schedule: config.databases.find((database) => database.name === name)?.schedule })),
          { logical: schedules.logicalBackup, base: schedules.baseBackup, walArchiving: true, validation: true },
        ),
        policy: DEFAULT_DEADMAN_POLICY,
      },
    );
    const reconcile = reconcileHandler(context);
    const jobs: ScheduledJob[] = [
      ...targets.map(({ name }) => ({
        name: `backup ${name}`,
        expression: config.databases.find((database) => database.name === name)?.schedule ?? schedules.logicalBackup,
        run: (firedAt: Date) => schedule({ database: name, time: firedAt.toISOString() }),
      })),
      ...targets.map(({ name }) => ({
        name: `base backup ${name}`,
        expression: schedules.baseBackup,
        run: (firedAt: Date) => schedule({ database: name, time: firedAt.toISOString(), type: 'base' }),
      })),
      ...targets.map(({ name, target }) => ({
        name: `wal checkpoint ${name}`,
        expression: schedules.walCheckpoint,
        run: async () => {
          const readHistory = (database: string, timeline: number) => readArchivedHistory(context, database, timeline);
          await runWalCheckpoint({ ...context, server: pgWalServer, readHistory }, { database: name, connection: target.connection, waitMs: 60_000 });
        },
      })),
      { name: 'watchdog', expression: config.watchdogSchedule, run: () => watchdog() },
      { name: 'retention', expression: schedules.retention, run: () => retention({ sweep: true }) },
      { name: "dead man's switch", expression: 'rate(1 hour)', run: () => deadman() },
      // WAL records whose event was lost are indexed from storage, hourly (in AWS: the reconcile function).
      ...(targets.length > 0 ? [{ name: 'wal reconciliation', expression: 'rate(1 hour)', run: () => reconcile({ databases: targets.map(({ name }) => name) }) }] : []),
      ...drills.jobs,
    ];
    const scheduler = startScheduler(jobs, context.clock, log);
    parts.scheduler = scheduler;

    say(`Strongbox local mode`);
    say(`  home        ${paths.root}`);
    say(`  storage     ${context.storage.location}`);
    say(`  catalog     ${context.catalogEndpoint} (DynamoDB-compatible, table ${LOCAL_TABLE}, files in ${paths.catalog})`);
    say(`  task logs   ${paths.logs}`);
    for (const { name, target } of targets) say(`  database    ${name}: ${redactConnection(target.connection)}`);
    if (cluster && demoConnection?.passfile) {
      // The password stays in its passfile: say where, and how to use it (psql, and the CLI's --target-url).
      say(`  connect     ${demoPsqlCommand(demoConnection)}`);
      say(`              (the password is in ${demoConnection.passfile}; give PGPASSFILE=${demoConnection.passfile} to \`strongbox restore --target-url …\` too)`);
    }
    say(`  archive     ${archiving.endpointUrl} (WAL archive endpoint; token in ${archiving.tokenFile})`);
    for (const [name, host] of archiving.hosts) {
      const configured = name === DEMO_DATABASE && cluster ? ' (already set on the demo PostgreSQL)' : '';
      say(`  postgresql.conf for ${name}${configured}:`);
      say(`      archive_mode = on`);
      say(`      archive_command = '${host.archiveCommand.replace(/'/g, "''")}'`);
      say(`      archive_timeout = 60`);
      say(`    and for a recovery: restore_command = '${host.restoreCommand.replace(/'/g, "''")}'`);
    }
    for (const next of scheduler.upcoming()) say(`  next        ${next.name} at ${next.at.toISOString()}`);

    await watchdog();
    // Backups killed with SIGKILL (or with a killed `npm start`) leave partial files or uploads that nothing else removes.
    // The repository folder's whole `.tmp/` is ours (a killed `npm start` leaves WAL and record writes there too); in S3, only the backups' prefixes.
    const prefixes = config.storage.type === 'folder' ? [''] : undefined;
    const swept = await sweepUnfinishedQuietly({ ...context, processes: localProcesses }, { staleAfterMs: config.staleAfterSeconds * 1000, ...(prefixes ? { prefixes } : {}) });
    if (swept.discarded.length) say(`  cleaned     ${swept.discarded.length} unfinished write(s) no live backup owns (${(swept.bytes / 1e6).toFixed(1)} MB)`);
    // Records a stopped `npm start` had not indexed yet (killed within its indexing window, docs/wal.md) are indexed now, not within the hour.
    // In the background (the first run on an old home lists its whole archive), tracked so that stopping waits for it.
    if (targets.length > 0) {
      const reconciled = reconcile({ databases: targets.map(({ name }) => name) })
        .then((report) => void (report.repaired > 0 && say(`${new Date().toISOString()} indexed ${report.repaired} archived WAL file(s) the catalog lacked`)))
        .catch((error: unknown) => log.warn('the WAL reconciliation at start failed (it runs again within the hour)', { error: (error as Error).message }))
        .finally(() => parts.reports.delete(reconciled));
      parts.reports.add(reconciled);
    }
    for (const { name } of targets) {
      checkAborted();
      const tier = catchUpTier(await context.catalog.listByDatabase(name, { kind: 'logical', limit: 200 }), name, context.clock());
      if (!tier) continue;
      say(`  catch-up    no recent ${tier} backup of ${name}: taking one now`);
      await schedule({ database: name, time: context.clock().toISOString(), tier });
    }
    for (const { name } of targets) {
      // Point-in-time recovery needs a base backup: a fresh home takes one at once.
      checkAborted();
      const bases = await context.catalog.listByDatabase(name, { kind: 'base', limit: 20 });
      const dayAgo = context.clock().getTime() - 26 * 3600_000;
      if (bases.some((entry) => entry.state !== 'FAILED' && Date.parse(entry.startedAt) > dayAgo)) continue;
      say(`  catch-up    no recent base backup of ${name}: taking one now (the base for point-in-time recovery)`);
      await schedule({ database: name, time: new Date(context.clock().getTime() + 1).toISOString(), type: 'base' });
    }
    say('Ready. `npx strongbox list` shows the catalog; Ctrl-C stops.');
    checkAborted();
  } catch (error) {
    note(`Stopping: the start did not finish (${(error as Error).message})…`);
    await shutdown();
    note('Stopped.');
    throw error;
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  const stop = (why?: string) => {
    if (stopping) {
      if (!cut.signal.aborted) {
        cut.abort();
        note(`Stopping now${why ? ` (${why} again)` : ''}: running backups are stopped without waiting…`);
      }
      return stopping;
    }
    note(`Stopping${why ? ` (${why})` : ''}: no new backups; running ones finish first, then ${cluster ? 'the demo PostgreSQL, ' : ''}the archive endpoint and the catalog stop…`);
    return shutdown().then(() => {
      note('Stopped.');
      resolveStopped();
    });
  };
  return { stopped, stop };
}
