import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { StrongboxConfig } from '../../config';
import { formatDuration, formatTime, statusHtml, type DatabaseStatus } from '../../domain/status';
import { describeGapRanges } from '../../domain/wal/continuity';
import { InputError, StorageError } from '../../errors';
import { configuredDatabaseNames, resolveDatabase } from '../../local/databases';
import type { HomePaths } from '../../local/home';
import { checkDatabaseName } from '../../usecases/database-names';
import { readStatus, type StatusReport } from '../../usecases/status';
import { printResult, type CommandRunner, type Output } from '../output';
import { withSession } from '../session';

interface StatusFlags {
  database?: string;
  html?: string;
}

const LABEL = 18;

function field(label: string, lines: readonly string[]): string[] {
  return lines.map((line, index) => `  ${(index === 0 ? label : '').padEnd(LABEL)}${line}`);
}

function windowLines(status: DatabaseStatus): string[] {
  const { logical, pitr } = status;
  const full = logical.points.filter((point) => point.scope === 'full');
  const logicalLine = logical.from
    ? `${full.length} VERIFIED full dump(s), ${formatTime(logical.from)} … ${formatTime(logical.to)} (the moment of each dump only)`
    : 'none: no VERIFIED full dump';
  const pitrLines = pitr.available
    ? pitr.ranges.map((range) => `any moment ${formatTime(range.from)} … ${formatTime(range.to)} (from base ${range.baseBackupIds.join(', ')})`)
    : [`not available: ${pitr.reason ?? 'unknown'}`];
  const gapLines = pitr.gaps.length
    ? pitr.gaps.map((gap) => `${gap.count === 1 ? gap.first : `${gap.first}..${gap.last}`} (${gap.count} segment${gap.count === 1 ? '' : 's'}) between ${formatTime(gap.after)} and ${formatTime(gap.before)}`)
    : ['none'];
  return [
    ...field('logical restore', [logicalLine]),
    ...field('point in time', pitrLines),
    ...field('WAL gaps', gapLines),
    ...(status.restorePoints.length
      ? field('restore points', status.restorePoints.map((point) => `${point.name} at ${formatTime(point.at)}${point.reachable ? '' : ' (outside the PITR window)'}`))
      : []),
    ...(status.timelines.length > 1 || status.liveTimeline ? field('timelines', timelineLines(status)) : []),
    ...field('WAL archived', [
      pitr.firstArchived && pitr.lastArchived
        ? `${pitr.archivedSegments} segment(s) since the oldest base backup, ${pitr.firstArchived.name} … ${pitr.lastArchived.name}; timelines ${pitr.timelines.join(', ')}`
        : pitr.timelines.length
          ? `timelines ${pitr.timelines.join(', ')}; nothing since a base backup`
          : 'nothing',
    ]),
  ];
}

/** One line per archived timeline: where it branched, whether the live server is on it, the flag to follow it. */
function timelineLines(status: DatabaseStatus): string[] {
  const live = status.liveTimeline;
  const source = live ? { checkpoint: 'the WAL checkpoint', 'base-backup': 'the newest base backup', promotion: 'pitr --as-primary' }[live.source] : undefined;
  return status.timelines.map((timeline) => {
    const branch = timeline.parent !== undefined ? `branched off ${timeline.parent} at ${timeline.branchLsn}` : timeline.timeline === 1 ? 'the first' : 'branch point unknown';
    const role = timeline.live ? `the live server is on it (${source}, ${formatTime(live!.at)})` : live ? 'not the live server: a recovered copy or an old primary' : 'live server not recorded yet';
    const use = timeline.followed ? 'followed by default' : `pitr ${timeline.flag} to follow it`;
    return `${timeline.timeline}: ${branch}, up to ${timeline.highestName || '?'}; ${role}; ${use}`;
  });
}

function healthLines(status: DatabaseStatus): string[] {
  const tiers = status.tiers.length
    ? status.tiers.map((tier) => `${tier.kind.padEnd(8)}${tier.tier.padEnd(14)}${tier.backupId}  ${tier.state.padEnd(8)}  ${formatDuration(tier.ageSeconds)} ago${tier.lastVerified ? ` (last VERIFIED ${tier.lastVerified.backupId}, ${formatDuration(tier.lastVerified.ageSeconds)} ago)` : ''}`)
    : ['none'];
  const drill = status.lastValidation;
  const drillLines = drill
    ? [
        `${drill.ok ? 'passed' : 'FAILED'} ${formatTime(drill.at)} (${formatDuration(drill.ageSeconds)} ago) on ${drill.backupId}: RTO ${formatDuration(drill.rtoSeconds)}${drill.reason ? ` — ${drill.reason}` : ''}`,
        ...(status.lastGoodValidation ? [`last passed ${formatTime(status.lastGoodValidation.at)}: RTO ${formatDuration(status.lastGoodValidation.rtoSeconds)}`] : []),
      ]
    : ['never (strongbox validate)'];
  const a = status.archive;
  const rpo = a.rpoNowSeconds !== undefined ? `${formatDuration(a.rpoNowSeconds)} since ${a.durableThroughWal ?? a.lastArchivedWal} was archived${a.behindBecause ? ` — ${a.behindBecause}` : ''}` : 'nothing archived';
  const lag = a.measuredLagSeconds !== undefined ? `measured lag ${formatDuration(a.measuredLagSeconds)} at ${formatTime(a.measuredAt)}` : 'lag not measured yet';
  const failures = a.failedCount ? `archiver failures ${a.failedCount} (last ${a.lastFailedWal ?? '?'} at ${formatTime(a.lastFailedAt)})` : 'no archiver failure';
  const reported = a.reportedGap?.length ? [`the last checkpoint reported missing ${a.reportedGapSegments ?? '?'} segment(s) in ${a.reportedGapRanges ?? a.reportedGap.length} range(s): ${describeGapRanges(a.reportedGap)}`] : [];
  const physical = (status.pitrDrills ?? []).map((d) =>
    `${d.ok ? 'passed' : 'FAILED'} ${formatTime(d.at)} to ${d.backupId}'s instant: RTO ${formatDuration(d.rtoSeconds)}${d.replayMBps !== undefined ? `, replay ${d.replayMBps.toFixed(0)} MB/s` : ''}${d.rpoSeconds !== undefined ? `, RPO ${formatDuration(d.rpoSeconds)}` : ''}${d.compared !== undefined ? `, ${d.compared} tables equal${d.notCompared ? ` (${d.notCompared} not compared)` : ''}` : ''}${d.reason ? ` — ${d.reason}` : ''}`,
  );
  return [...field('last backups', tiers), ...field('last drill', drillLines), ...field('physical drills', physical.length ? physical : ['never (strongbox validate --pitr)']), ...field('RPO now', [rpo, `${lag}; ${failures}`, ...reported])];
}

/** The report for people: per database its restore windows, gaps, last backups, drill and RPO. */
export function statusText(report: StatusReport): string {
  const blocks = report.databases.map((status) => [status.database, ...windowLines(status), ...healthLines(status), ...status.warnings.map((warning) => `  ! ${warning}`)].join('\n'));
  return [`Strongbox status at ${formatTime(report.at)}`, ...blocks].join('\n\n');
}

/**
 * The databases to report: `--database`, else the configured ones, else the one local mode
 * would back up (DATABASE_URL's, or the demo's). Throws InputError when there is none.
 */
export function statusDatabases(flags: StatusFlags, config: StrongboxConfig, env: NodeJS.ProcessEnv, paths: HomePaths): string[] {
  if (flags.database) return [flags.database];
  if (config.databases.length) return config.databases.map((database) => database.name);
  try {
    return [resolveDatabase({}, config, env, paths).name];
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new InputError('no database to report on', 'pass --database NAME, list databases in strongbox.config.json, or set DATABASE_URL', { cause: error });
  }
}

/**
 * Runs `strongbox status`: reads the catalog by keys, prints the windows (or `--json`),
 * and with `--html FILE` also writes the self-contained page. Returns 0; throws
 * UnknownDatabaseError when `--database` names a database neither configured nor in the
 * catalog, StorageError when the page cannot be written, and what readStatus throws.
 */
export async function statusCommand(flags: StatusFlags, out: Output): Promise<number> {
  return withSession(out, async ({ context, config, env }) => {
    const databases = statusDatabases(flags, config, env, context.paths);
    if (flags.database) await checkDatabaseName(context, { name: flags.database, configured: configuredDatabaseNames(config, env, context.paths) });
    const report = await readStatus(context, { databases, now: context.clock() });
    let wrote = '';
    if (flags.html) {
      const file = resolve(flags.html);
      try {
        await writeFile(file, statusHtml(report));
      } catch (error) {
        throw new StorageError(`cannot write the status page ${file}: ${(error as Error).message}`, 'choose a file in a folder that exists and you can write to', { cause: error });
      }
      wrote = `\n\nPage written to ${file}`;
    }
    printResult(out, report, `${statusText(report)}${wrote}`);
    return 0;
  });
}

/** Registers `strongbox status`. */
export function registerStatus(program: Command, run: CommandRunner): void {
  program
    .command('status')
    .description('the restore window of each database: from when to when it can be restored, from which backups, WAL gaps, last backups, last drill (RTO), archive lag (RPO)')
    .option('--database <name>', 'only this database')
    .option('--json', 'print one JSON document')
    .option('--html <file>', 'also write a self-contained page with a timeline picture')
    .addHelpText('after', '\nExamples:\n  strongbox status\n  strongbox status --database app --json\n  strongbox status --html status.html\n')
    .action(async (flags: StatusFlags & { json?: boolean }) => run((out) => statusCommand(flags, out), Boolean(flags.json)));
}
