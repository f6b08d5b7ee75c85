import { resolve as resolvePath } from 'node:path';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { freePort } from '../../adapters/postgres/cluster';
import { prepareEmptyDataDir, socketDirFor, startAndAwaitPromotion, unpackBaseBackup, writeRecoveryConfig } from '../../adapters/postgres/recovery';
import { parsePitrTarget } from '../../domain/wal/pitr-target';
import { startLocalArchiving } from '../../local/archiving';
import { resolveDatabase } from '../../local/databases';
import { readLiveInstance } from '../../local/home';
import { walHostPaths } from '../../local/wal-paths';
import { planRecovery, runPitr, type PitrResult } from '../../usecases/pitr';
import type { PitrPlan } from '../../domain/wal/pitr-plan';
import { InputError } from '../../errors';
import { printResult, UsageError, type CommandRunner, type Output } from '../output';
import { terminalConfirm, type Confirm } from './restore';
import { withSession } from '../session';

interface PitrFlags {
  database?: string;
  time?: string;
  lsn?: string;
  xid?: string;
  name?: string;
  latest?: boolean;
  exclusive?: boolean;
  timeline?: string;
  pgdata?: string;
  /** From --no-archive: false when given. A copy archives nothing anyway; kept so old scripts work. */
  archive: boolean;
  asPrimary?: boolean;
  yes?: boolean;
  start?: boolean;
  dryRun?: boolean;
  port?: string;
  timeout: string;
  json?: boolean;
}

function planLines(plan: PitrPlan): string[] {
  return [
    `  target      ${plan.target}`,
    `  base backup ${plan.base.id} (ended ${plan.base.finishedAt}, timeline ${plan.base.timeline})`,
    `  WAL         ${plan.wal.first} .. ${plan.wal.last} (${plan.wal.count} segment${plan.wal.count === 1 ? '' : 's'}, timelines ${plan.timelines.join(' → ')}), continuous`,
    `  archive     reaches ${plan.reach.lsn}${plan.reach.archivedAt ? ` (archived ${plan.reach.archivedAt})` : ''}`,
    ...plan.warnings.map((warning) => `  warning     ${warning}`),
  ];
}

function summary(database: string, result: { plan: PitrPlan } & Partial<PitrResult>, dryRun: boolean): Record<string, unknown> {
  return {
    database,
    dryRun,
    target: result.plan.target,
    baseBackup: result.plan.base.id,
    wal: result.plan.wal,
    timelines: result.plan.timelines,
    reach: result.plan.reach,
    warnings: result.plan.warnings,
    ...(result.pgdata ? { pgdata: result.pgdata } : {}),
    ...(result.settings ? { settings: result.settings } : {}),
    ...(result.started ? { started: { port: result.started.port, replaySeconds: result.started.seconds, logFile: result.started.logFile, ...(result.started.timeline !== undefined ? { timeline: result.started.timeline } : {}) } } : {}),
    ...(result.pgdata ? { asPrimary: Boolean(result.recordedLive) || result.settings?.['archive_mode'] === 'on' } : {}),
    ...(result.recordedLive ? { liveTimeline: result.recordedLive } : {}),
  };
}

/** Runs `strongbox pitr`: plan (and with --dry-run only the plan), unpack, configure, optionally start and await promotion. */
export async function pitrCommand(flags: PitrFlags, out: Output, confirm: Confirm = undefined): Promise<number> {
  const target = parsePitrTarget({ time: flags.time, lsn: flags.lsn, xid: flags.xid, name: flags.name, latest: flags.latest });
  if (!flags.dryRun && !flags.pgdata) throw new UsageError('--pgdata DIR is required (or --dry-run)', 'name a new or empty folder for the recovered cluster, e.g. --pgdata /var/lib/postgresql/recovered');
  const timeoutSeconds = Number(flags.timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 10) throw new UsageError(`--timeout ${flags.timeout} is not a number of seconds ≥ 10`, 'e.g. --timeout 3600');
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`--port ${flags.port} is not a TCP port`, 'e.g. --port 5433');
  const timeline = flags.timeline === undefined ? undefined : Number(flags.timeline);
  if (timeline !== undefined && (!Number.isInteger(timeline) || timeline < 1)) throw new UsageError(`--timeline ${flags.timeline} is not a timeline number`, 'e.g. --timeline 1 (default: the timeline the live server is on)');
  if (flags.asPrimary && !flags.archive) throw new UsageError('--as-primary and --no-archive contradict each other', 'a new primary archives its timeline; leave out --as-primary for a copy that archives nothing');
  if (flags.asPrimary && !flags.dryRun && !flags.yes && !confirm) {
    throw new UsageError('--as-primary makes the recovered cluster the primary of this database\'s archive and there is no terminal to confirm on', 'pass --yes to confirm, or leave out --as-primary for a copy that archives nothing');
  }
  return withSession(out, async ({ context, config, env }) => {
    const database = resolveDatabase({ name: flags.database }, config, env, context.paths).name;
    const deps = { catalog: context.catalog, walCatalog: context.walCatalog, storage: context.storage, log: context.log };
    if (flags.dryRun) {
      const { plan } = await planRecovery(deps, database, target, timeline);
      printResult(out, summary(database, { plan }, true), [`Point-in-time recovery of ${database} (dry run: nothing written)`, ...planLines(plan)].join('\n'));
      return 0;
    }
    if (flags.asPrimary && !flags.yes && confirm) {
      out.stderr(
        `--as-primary: the recovered cluster becomes the primary of ${database}. It archives a new timeline into ${database}'s archive, and status and later recoveries follow that timeline instead of the server running now. Stop the old primary first.\n`,
      );
      const answer = (await confirm(`Type the database's name ("${database}") to go ahead: `)).trim();
      if (answer !== database) throw new InputError(`pitr cancelled: "${answer}" is not "${database}"`, 'run it again and type the name exactly, or leave out --as-primary for a copy');
    }
    const host = walHostPaths(context.paths, database);
    // Recovery fetches WAL through the archive endpoint: without `npm start`, this command serves it while it runs.
    let stopEndpoint: (() => Promise<void>) | undefined;
    if (flags.start && !readLiveInstance(context.paths)) {
      const bundle = join(dirname(fileURLToPath(import.meta.url)), 'wal.js');
      const archiving = await startLocalArchiving({ context, storage: config.storage, env, databases: [database], bundle: existsSync(bundle) ? bundle : resolvePath('dist/wal.js') });
      stopEndpoint = archiving.stop;
    }
    try {
      const pgdata = resolvePath(flags.pgdata!);
      const result = await runPitr(
        { ...deps, alerts: context.alerts, clock: () => new Date(), server: { prepareEmptyDataDir, unpackBaseBackup, writeRecoveryConfig, socketDirFor, startAndAwaitPromotion } },
        {
          database,
          target,
          exclusive: Boolean(flags.exclusive),
          ...(timeline !== undefined ? { timeline } : {}),
          pgdata,
          restoreCommand: host.restoreCommand,
          archiveCommand: host.archiveCommand,
          archive: Boolean(flags.asPrimary),
          start: Boolean(flags.start),
          port: port ?? (await freePort()),
          timeoutMs: timeoutSeconds * 1000,
        },
      );
      const lines = [`Point-in-time recovery of ${database} into ${pgdata}`, ...planLines(result.plan)];
      if (result.started) {
        lines.push(`  promoted    after ${result.started.seconds.toFixed(1)} s of replay; listening on 127.0.0.1:${result.started.port} (log ${result.started.logFile})`);
      } else {
        lines.push(`  ready       start it with: pg_ctl -D ${pgdata} start   (it replays, then promotes)`);
      }
      if (flags.asPrimary) {
        lines.push(
          result.recordedLive
            ? `  archiving   on: the new primary archives timeline ${result.recordedLive.timeline} into ${database}'s archive; status and later recoveries follow it`
            : `  archiving   on once started: the new primary archives its timeline into ${database}'s archive; the next WAL checkpoint records it as the live one`,
        );
      } else {
        lines.push(`  archiving   off: a copy, it writes nothing into ${database}'s archive (to make it the primary, recover again with --as-primary)`);
      }
      printResult(out, summary(database, result, false), lines.join('\n'));
      return 0;
    } finally {
      if (stopEndpoint) await stopEndpoint();
    }
  });
}

/** Registers `pitr` on the program. */
export function registerPitr(program: Command, run: CommandRunner): void {
  program
    .command('pitr')
    .description('point-in-time recovery into a new data directory: a base backup plus archived WAL up to the target')
    .option('--database <name>', 'a database from strongbox.config.json (or "demo" in local mode)')
    .option('--time <time>', 'recover to this moment (ISO-8601; without a zone it is UTC)')
    .option('--lsn <lsn>', 'recover to this WAL position, e.g. 0/16B3748')
    .option('--xid <xid>', 'recover to the commit of this transaction')
    .option('--name <name>', 'recover to a restore point made with `strongbox restore-point`')
    .option('--latest', 'recover everything archived')
    .option('--exclusive', 'stop just before the target instead of just after it')
    .option('--timeline <n>', 'follow this timeline (default: the one the live server is on, as the WAL checkpoint last read it; `strongbox status` lists them)')
    .option('--pgdata <dir>', 'the new data directory (must be empty or absent)')
    .option('--as-primary', 'the recovered cluster becomes the primary: it archives its new timeline into this database\'s archive (confirm by typing the name, or --yes). Without it the recovery is a copy that archives nothing')
    .option('--yes', 'do not ask for confirmation of --as-primary (needed without a terminal)')
    .option('--no-archive', 'the default (kept for old scripts): the recovered cluster archives nothing')
    .option('--start', 'start the recovered server and wait until it has promoted')
    .option('--port <port>', 'port of the recovered server (default: a free one)')
    .option('--timeout <seconds>', 'how long --start waits for promotion', '3600')
    .option('--dry-run', 'print the plan from the catalog and change nothing')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nExamples:\n  strongbox pitr --database app --time "2026-11-24 03:12:00" --dry-run\n  strongbox pitr --database app --name before-migration-42 --pgdata /srv/pg/recovered --start\n' +
        '  strongbox pitr --database app --latest --pgdata /var/lib/postgresql/15/main --as-primary --start   # total loss: the recovery becomes the primary\n',
    )
    .action(async (flags: PitrFlags) => run((out) => pitrCommand(flags, out, terminalConfirm()), Boolean(flags.json)));
}
