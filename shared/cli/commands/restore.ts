import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { restorePlanSummary } from '../../domain/invoke/execution';
import type { RestorePlan } from '../../domain/restore-plan';
import { InputError } from '../../errors';
import { pgRestoreDeps } from '../../runtime/restore-tools';
import { resolveRestorePlan, runRestore, type RestoreReport } from '../../usecases/restore';
import { endProgress, printResult, UsageError, type CommandRunner, type Output } from '../output';
import { connectionFromFlag } from '../flag-connection';
import { withInterrupts } from '../interrupts';
import { phaseProgressPrinter } from '../phase-progress';
import { withSession } from '../session';
import { checkLogin } from '../target-check';

interface RestoreFlags {
  database?: string;
  targetUrl: string;
  jobs: string;
  dropFirst?: boolean;
  force?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  globals?: boolean;
  after?: string;
}

/** How the command asks for confirmation; undefined when there is no terminal to ask on. */
export type Confirm = ((question: string) => Promise<string>) | undefined;

/** Asks on the terminal, or undefined when stdin or stderr is not one. */
export function terminalConfirm(): Confirm {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  return async (question) => {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await prompt.question(question);
    } finally {
      prompt.close();
    }
  };
}

/** The plan as `--dry-run --json` prints it. */
export function planSummary(plan: RestorePlan): Record<string, unknown> {
  return { dryRun: true, ...restorePlanSummary(plan), globals: Boolean(plan.globals), after: plan.after ?? null };
}

function planText(plan: RestorePlan): string {
  return [
    `Restore plan: backup ${plan.backup.id} of "${plan.database}" over ${plan.target.redacted}`,
    ...plan.steps.map((step, i) => `  ${i + 1}. ${step}`),
    ...plan.warnings.map((warning) => `WARNING: ${warning}`),
  ].join('\n');
}

function reportText(report: RestoreReport): string {
  return [
    `Restored backup ${report.backupId} of "${report.database}" into ${report.target} in ${report.seconds.toFixed(1)} s`,
    `  ${report.tables} tables, ${report.rows} rows, verified against the manifest`,
    report.keptAs ? `  the previous database is kept as "${report.keptAs}": drop it once you are satisfied` : '',
    report.droppedLeftovers.length ? `  dropped leftovers of killed restores: ${report.droppedLeftovers.join(', ')}` : '',
    report.globals ? `  globals applied${report.globals.existing.length ? `; already there, kept: ${report.globals.existing.join(', ')}` : ''}` : '',
    report.after ? `  post-restore command ${report.after.ok ? 'succeeded' : `FAILED (${report.after.exitCode === null ? `killed by ${report.after.signal ?? 'a signal'}` : `exit ${report.after.exitCode}`})`} in ${report.after.seconds.toFixed(1)} s: ${report.after.command}` : '',
    ...report.warnings.map((warning) => `  WARNING: ${warning}`),
    `  steps: ${report.steps.map((s) => `${s.name} ${s.seconds.toFixed(1)} s`).join(', ')}`,
  ].filter(Boolean).join('\n');
}

/**
 * Runs `strongbox restore`: prints the plan with --dry-run; otherwise asks for the target
 * database's name on a terminal (or needs --yes), restores, and prints the report.
 * Returns the exit code; throws UsageError (exit 2) for bad flags or a missing --yes without
 * a terminal, and StrongboxErrors (exit 1) when the restore fails or is refused.
 */
export async function restoreCommand(backupId: string, flags: RestoreFlags, out: Output, confirm: Confirm): Promise<number> {
  const jobs = Number(flags.jobs);
  if (!/^\d+$/.test(flags.jobs) || jobs < 1) throw new UsageError(`--jobs ${flags.jobs} is not a positive whole number`, 'e.g. --jobs 4 (pg_restore -j)');
  if (!flags.dryRun && !flags.yes && !confirm) {
    throw new UsageError('restore replaces a database and there is no terminal to confirm on', 'pass --yes to confirm, or --dry-run to see the plan first');
  }
  const target = connectionFromFlag('--target-url', flags.targetUrl, process.env);
  const request = {
    backupId,
    ...(flags.database ? { database: flags.database } : {}),
    target,
    jobs,
    dropFirst: Boolean(flags.dropFirst),
    force: Boolean(flags.force),
    ...(flags.globals ? { globals: true } : {}),
    ...(flags.after !== undefined ? { after: flags.after } : {}),
  };
  return withSession(out, async ({ context }) => {
    // The names shown (stamped at this moment) are the names used, however long the confirmation takes.
    const plannedAt = context.clock();
    const plan = await resolveRestorePlan({ ...context, clock: () => plannedAt }, request);
    if (flags.dryRun) {
      printResult(out, planSummary(plan), `${planText(plan)}\n(dry run: nothing was changed)`);
      return 0;
    }
    // A refused login is found before the operator types the name, not after.
    await checkLogin('--target-url', target, 'server', context.paths);
    if (!flags.yes && confirm) {
      out.stderr(`${planText(plan)}\n`);
      const answer = (await confirm(`Type the target database's name ("${target.database}") to go ahead: `)).trim();
      if (answer !== target.database) throw new InputError(`restore cancelled: "${answer}" is not "${target.database}"`, 'run it again and type the name exactly, or pass --yes');
    }
    return withInterrupts(async (signal) => {
      const onProgress = phaseProgressPrinter(out, `restore ${target.database}`);
      // The backup shown and confirmed is the one restored, even if a newer one arrives meanwhile.
      const echoAfter = (chunk: string): void => out.stderr(chunk);
      const report = await runRestore({ ...context, ...pgRestoreDeps }, { ...request, backupId: plan.backup.id, database: plan.database, plannedAt, signal, echoAfter, ...(onProgress ? { onProgress } : {}) });
      if (onProgress) endProgress(out);
      printResult(out, report, reportText(report));
      if (report.after && !report.after.ok) {
        out.stderr(`strongbox: the restore is complete and in place, but the post-restore command failed\nhint: run it again by hand: ${report.after.command}\n`);
        return 1;
      }
      return 0;
    });
  });
}

/** Registers `restore`. */
export function registerRestore(program: Command, run: CommandRunner): void {
  program
    .command('restore')
    .description('full logical restore of a backup: into a scratch database, verified, then swapped in (the old one is kept)')
    .argument('<backup-id|latest>', 'a backup id from `strongbox list`, or latest (newest VERIFIED full backup)')
    .requiredOption('--target-url <url>', 'postgresql://user@host:port/db to replace — no password here: use PGPASSWORD or PGPASSFILE')
    .option('--database <name>', 'the backed-up database\'s name in Strongbox (default: the target\'s name)')
    .option('--jobs <n>', 'parallel pg_restore jobs', '2')
    .option('--drop-first', 'drop the target before restoring (a server without room for two copies)')
    .option('--force', 'restore a backup that is not VERIFIED (its checksum is still checked)')
    .option('--globals', 'first apply the backup\'s roles and tablespaces (pg_dumpall --globals-only) to the server; existing ones are kept and reported')
    .option('--after <command>', 'a shell command to run once the database is in place (PGHOST/PGPORT/PGUSER/PGDATABASE name it), e.g. \'npx prisma migrate deploy\'')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', 'do not ask for the database name (needed without a terminal)')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nExamples:\n  strongbox restore latest --target-url postgresql://admin@db:5432/app --dry-run\n' +
        '  PGPASSFILE=~/.pgpass strongbox restore 20260102T030000Z-l-1a2b3c --database app --target-url postgresql://admin@db/app --jobs 4 --yes --json\n' +
        '  strongbox restore latest --target-url postgresql://admin@db/app --globals --after \'npx prisma migrate deploy\' --yes\n',
    )
    .action(async (backupId: string, flags: RestoreFlags & { json?: boolean }) => run((out) => restoreCommand(backupId, flags, out, terminalConfirm()), Boolean(flags.json)));
}
