import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { deadmanHandler } from '../../functions/deadman';
import { retentionHandler } from '../../functions/retention';
import { scheduleBackupHandler } from '../../functions/schedule-backup';
import { watchdogHandler } from '../../functions/watchdog';
import type { LocalCluster } from '../adapters/postgres/cluster';
import type { PgConnection } from '../adapters/postgres/types';
import { logMetrics } from '../adapters/metrics/log-metrics';
import { redactConnection } from '../domain/connection';
import { DEFAULT_DEADMAN_POLICY, schedulesFor } from '../domain/deadman';
import { retentionPolicyFromConfig } from '../domain/retention';
import { catchUpTier } from '../domain/schedule';
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
import { ProcessTaskLauncher } from './process-launcher';
import { startScheduler, type ScheduledJob } from './scheduler';

export interface LocalServer {
  /** Resolves once everything is stopped (after `stop()` or a signal). */
  stopped: Promise<void>;
  stop(): Promise<void>;
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
}): Promise<LocalServer> {
  const { env, cwd, log, say } = options;
  const paths = resolveHome(env, cwd);
  const running = readLiveInstance(paths);
  if (running) {
    throw new StrongboxError('ALREADY_STARTED', `Strongbox is already running for ${paths.root} (pid ${running.pid})`, 'use the CLI beside it (`npx strongbox list`), or stop it with Ctrl-C first');
  }
  const { config, path: configPath } = loadConfig(env, cwd);
  const context = await openLocalContext({ paths, storage: config.storage, alertsConfig: config.alerts, env, log, ...(options.alertsConsole ? { alertsConsole: options.alertsConsole } : {}) });
  let cluster: LocalCluster | undefined;
  let demoConnection: PgConnection | undefined;
  const cleanups: Array<() => Promise<void>> = [context.close];
  try {
    writeInstance(paths, { pid: process.pid, catalogEndpoint: context.catalogEndpoint, tableName: LOCAL_TABLE, startedAt: new Date().toISOString() });
    cleanups.unshift(async () => clearInstance(paths));
    const names = config.databases.map((database) => database.name);
    if (!names.length && env.DATABASE_URL) names.push(resolveDatabase({}, config, env, paths).name);
    if (!names.length) {
      say(demoClusterAnnouncement(paths));
      const demo = await ensureDemoCluster(paths, log);
      cluster = demo.cluster;
      demoConnection = demo.connection;
      cleanups.unshift(() => demo.cluster.stop());
      names.push(DEMO_DATABASE);
    }
    const targets = names.map((name) => ({ name, target: resolveDatabase({ name }, config, env, paths) }));
    const distDir = dirname(fileURLToPath(import.meta.url));
    const archiving = await startLocalArchiving({ context, storage: config.storage, env, databases: names, bundle: join(distDir, 'wal.js') });
    cleanups.unshift(() => archiving.stop());
    if (cluster) await configureDemoArchiving(cluster, archiving.hosts.get(DEMO_DATABASE)!.archiveCommand, log);

    const launcher = new ProcessTaskLauncher({
      program: join(distDir, 'task-dump.js'),
      logDir: paths.logs,
      env: { ...env, STRONGBOX_HOME: paths.root, ...(configPath ? { STRONGBOX_CONFIG: configPath } : {}) },
      onExit: (request, code) => {
        void context.catalog.get(request.backupId).then((entry) => {
          const state = entry?.state ?? 'unknown';
          say(`${new Date().toISOString()} backup ${request.backupId} of ${request.database} (${request.tier}): ${state}${entry?.reason ? ` (${entry.reason})` : ''} [exit ${code}]`);
        });
      },
    });
    cleanups.unshift(() => launcher.stopAll());
    const schedule = scheduleBackupHandler({ ...context, launcher });
    const watchdog = watchdogHandler(context, config.staleAfterSeconds * 1000);
    // The retention function's daily sweep, in-process (in AWS: its EventBridge rule). The
    // policy is checked when it runs: a bad one alerts RETENTION_FAILED and deletes nothing.
    const retention = retentionHandler(context, () => retentionPolicyFromConfig(config.retention));
    // The dead man's switch, hourly (in AWS: the deadman function). No monthly drill is scheduled locally.
    const deadman = deadmanHandler(
      { ...context, metrics: logMetrics(log) },
      {
        schedules: schedulesFor(
          targets.map(({ name }) => ({ name, schedule: config.databases.find((database) => database.name === name)?.schedule })),
          { logical: schedules.logicalBackup, base: schedules.baseBackup, walArchiving: true, validation: false },
        ),
        policy: DEFAULT_DEADMAN_POLICY,
      },
    );
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
    ];
    const scheduler = startScheduler(jobs, context.clock, log);
    cleanups.unshift(async () => scheduler.stop());

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
    for (const { name } of targets) {
      const tier = catchUpTier(await context.catalog.listByDatabase(name, { kind: 'logical', limit: 200 }), name, context.clock());
      if (!tier) continue;
      say(`  catch-up    no recent ${tier} backup of ${name}: taking one now`);
      await schedule({ database: name, time: context.clock().toISOString(), tier });
    }
    for (const { name } of targets) {
      // Point-in-time recovery needs a base backup: a fresh home takes one at once.
      const bases = await context.catalog.listByDatabase(name, { kind: 'base', limit: 20 });
      const dayAgo = context.clock().getTime() - 26 * 3600_000;
      if (bases.some((entry) => entry.state !== 'FAILED' && Date.parse(entry.startedAt) > dayAgo)) continue;
      say(`  catch-up    no recent base backup of ${name}: taking one now (the base for point-in-time recovery)`);
      await schedule({ database: name, time: new Date(context.clock().getTime() + 1).toISOString(), type: 'base' });
    }
    say('Ready. `npx strongbox list` shows the catalog; Ctrl-C stops.');
  } catch (error) {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    throw error;
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      say('Stopping: waiting for running tasks, then the catalog' + (cluster ? ' and the demo PostgreSQL' : '') + '…');
      for (const cleanup of cleanups) await cleanup().catch((error: unknown) => log.error('cleanup failed', { error: (error as Error).message }));
      say('Stopped.');
      resolveStopped();
    })());
  return { stopped, stop };
}
