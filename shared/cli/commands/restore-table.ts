import type { Command } from 'commander';
import { pgRestoreTableDeps } from '../../runtime/table-restore-deps';
import { displayTable, MODES_HINT, RESTORE_TABLE_MODES, SIDE_BY_SIDE_LEAVES_OUT, type RestoreTableMode, type RestoreTablePlan } from '../../domain/restore-table-plan';
import { InputError } from '../../errors';
import { previewRecreate, resolveRestoreTablePlan, runRestoreTable, type RestoreTableReport } from '../../usecases/restore-table';
import type { PlannedObject } from '../../usecases/restore-table/recreate';
import { connectionFromFlag } from '../flag-connection';
import { withInterrupts } from '../interrupts';
import { endProgress, printResult, UsageError, type CommandRunner, type Output } from '../output';
import { phaseProgressPrinter } from '../phase-progress';
import { withSession } from '../session';
import { checkLogin } from '../target-check';
import { terminalConfirm, type Confirm } from './restore';
import { asOfTarget, restoreTableAsOfCommand, type AsOfFlags } from './restore-table-asof';

/** The flags of `strongbox restore-table`. */
export interface RestoreTableFlags extends AsOfFlags {
  table: string;
  targetUrl: string;
  database?: string;
  mode: string;
  force?: boolean;
  dryRun?: boolean;
  yes?: boolean;
}

/** The plan as `--dry-run --json` prints it (with --mode recreate, the objects it would recreate too). */
export function tablePlanSummary(plan: RestoreTablePlan, objects?: PlannedObject[]): Record<string, unknown> {
  return {
    dryRun: true,
    backupId: plan.backup.id,
    database: plan.database,
    target: plan.target.redacted,
    pattern: plan.pattern,
    mode: plan.mode,
    tables: plan.tables.map((t) => ({ table: displayTable(t), rows: t.rows, into: displayTable(t.into) })),
    scratch: plan.scratch,
    warnings: plan.warnings,
    steps: plan.steps,
    ...(objects ? { objects } : {}),
  };
}

function planText(plan: RestoreTablePlan, objects?: PlannedObject[]): string {
  return [
    `Table restore plan (--mode ${plan.mode}): ${plan.tables.map((t) => `${displayTable(t)} → ${displayTable(t.into)}`).join(', ')} from backup ${plan.backup.id} of "${plan.database}" into ${plan.target.redacted}`,
    ...plan.steps.map((step, i) => `  ${i + 1}. ${step}`),
    ...(objects ? ['Objects to recreate, in order (* = tried: skipped with the reason if the database no longer fits it):', ...objects.map((o) => `  ${o.required ? ' ' : '*'} ${o.object}`)] : []),
    ...plan.warnings.map((warning) => `WARNING: ${warning}`),
  ].join('\n');
}

function reportText(report: RestoreTableReport): string {
  return [
    `Restored ${report.tables.length === 1 ? 'table' : `${report.tables.length} tables`} from backup ${report.backupId} of "${report.database}" into ${report.target} (--mode ${report.mode}) in ${report.seconds.toFixed(1)} s`,
    ...report.tables.map(
      (t) =>
        `  ${t.table} → ${t.into}: ${t.rowsBefore === null ? 'created' : `${t.rowsBefore} rows before`}, ${t.rowsAfter} after (${t.rowsRestored} from the backup)` +
        (t.sequences.length ? `; sequences moved forward: ${t.sequences.map((s) => `${s.sequence} ${s.from} → ${s.to}`).join(', ')}` : ''),
    ),
    report.mode === 'side-by-side' ? `  compare, move what you need, then drop the restored tables. They hold ${SIDE_BY_SIDE_LEAVES_OUT}` : '',
    report.recreated ? `  recreated ${report.recreated.length} objects: ${report.recreated.join('; ')}` : '',
    ...(report.skipped ?? []).map((o) => `  NOT recreated: ${o.object}: ${o.reason}`),
    report.skipped?.length ? '  (each skipped object\'s SQL is in --json\'s "skipped"; run it by hand once its reason is dealt with)' : '',
    report.droppedLeftovers.length ? `  dropped leftovers of killed table restores: ${report.droppedLeftovers.join(', ')}` : '',
    `  steps: ${report.steps.map((s) => `${s.name} ${s.seconds.toFixed(1)} s`).join(', ')}`,
  ].filter(Boolean).join('\n');
}

/**
 * Runs `strongbox restore-table`: prints the plan with --dry-run; otherwise asks for the target
 * database's name on a terminal (or needs --yes), restores and prints the report. Returns the
 * exit code; throws UsageError (exit 2) for bad flags or a missing --yes without a terminal,
 * and StrongboxErrors (exit 1) when the restore fails or is refused.
 */
export async function restoreTableCommand(backupId: string | undefined, flags: RestoreTableFlags, out: Output, confirm: Confirm): Promise<number> {
  const at = asOfTarget(flags);
  if (at && backupId !== undefined) throw new UsageError(`give a backup id or a moment (--time, --lsn, --name), not both (${backupId})`, 'a moment recovers the tables from the base backup and WAL; a backup id restores them from that logical backup');
  if (!at && backupId === undefined) throw new UsageError('give a backup id (or latest), or a moment with --time, --lsn or --name', 'e.g. strongbox restore-table latest --table public.orders ..., or --time "2026-11-24 03:12:00"');
  if (!RESTORE_TABLE_MODES.includes(flags.mode as RestoreTableMode)) {
    throw new UsageError(`--mode ${flags.mode} is not one of ${RESTORE_TABLE_MODES.join(', ')}`, `${MODES_HINT} (default: side-by-side)`);
  }
  if (!flags.dryRun && !flags.yes && !confirm) {
    throw new UsageError('restore-table changes a database and there is no terminal to confirm on', 'pass --yes to confirm, or --dry-run to see the plan first');
  }
  const target = connectionFromFlag('--target-url', flags.targetUrl, process.env);
  if (at) return restoreTableAsOfCommand(at, { target, table: flags.table, mode: flags.mode as RestoreTableMode, ...(flags.database ? { database: flags.database } : {}) }, flags, out, confirm);
  if (backupId === undefined) throw new UsageError('give a backup id', 'or latest');
  const request = { backupId, ...(flags.database ? { database: flags.database } : {}), target, table: flags.table, mode: flags.mode as RestoreTableMode, force: Boolean(flags.force) };
  return withSession(out, async ({ context }) => {
    if (flags.dryRun && request.mode === 'recreate') {
      // The objects come from the dump's table of contents: it is downloaded (and checked) for that.
      const preview = await withInterrupts((signal) => previewRecreate({ ...context, ...pgRestoreTableDeps }, { ...request, signal }));
      printResult(out, tablePlanSummary(preview.plan, preview.objects), `${planText(preview.plan, preview.objects)}\n(dry run: the dump was downloaded to read its contents; nothing was changed)`);
      return 0;
    }
    const plan = await resolveRestoreTablePlan(context, request);
    if (flags.dryRun) {
      printResult(out, tablePlanSummary(plan), `${planText(plan)}\n(dry run: nothing was changed)`);
      return 0;
    }
    // A refused login is found before the operator types the name, not after.
    await checkLogin('--target-url', target, 'database', context.paths);
    if (!flags.yes && confirm) {
      out.stderr(`${planText(plan)}\n`);
      const answer = (await confirm(`Type the target database's name ("${target.database}") to go ahead: `)).trim();
      if (answer !== target.database) throw new InputError(`table restore cancelled: "${answer}" is not "${target.database}"`, 'run it again and type the name exactly, or pass --yes');
    }
    return withInterrupts(async (signal) => {
      const onProgress = phaseProgressPrinter(out, `restore-table ${plan.pattern}`);
      // The backup shown and confirmed is the one restored, even if a newer one arrives meanwhile.
      const report = await runRestoreTable({ ...context, ...pgRestoreTableDeps }, { ...request, backupId: plan.backup.id, database: plan.database, signal, ...(onProgress ? { onProgress } : {}) });
      if (onProgress) endProgress(out);
      printResult(out, report, reportText(report));
      return 0;
    });
  });
}

/** Registers `restore-table`. */
export function registerRestoreTable(program: Command, run: CommandRunner): void {
  program
    .command('restore-table')
    .description('restore one table (or the tables a pattern selects) from a backup, or as it was at a moment, through a scratch database on the target server')
    .argument('[backup-id|latest]', 'a backup id from `strongbox list`, or latest (newest VERIFIED full backup); leave out with --time, --lsn or --name')
    .requiredOption('--table <pattern>', 'pg_dump-style pattern: [schema.]table, * and ? wildcards, double quotes keep case (e.g. \'"Sales".orders\')')
    .requiredOption('--target-url <url>', 'postgresql://user@host:port/db holding the table — no password here: use PGPASSWORD or PGPASSFILE')
    .option('--database <name>', 'the backed-up database\'s name in Strongbox (default: the target\'s name)')
    .option('--mode <mode>', 'replace (the rows become the backup\'s), append (add the backup\'s rows), side-by-side (create <table>_restored_<ts>: columns and rows only) or recreate (bring back a dropped table with its constraints, indexes, views and foreign keys)', 'side-by-side')
    .option('--time <time>', 'the tables as they were at this moment (ISO-8601; without a zone it is UTC): recovered from the base backup before it and the archived WAL, in a scratch cluster on this machine')
    .option('--lsn <lsn>', 'as they were at this WAL position, e.g. 0/16B3748')
    .option('--name <name>', 'as they were at a restore point made with `strongbox restore-point`')
    .option('--timeline <n>', 'with a moment: follow this timeline (default: the live server\'s)')
    .option('--timeout <seconds>', 'with a moment: how long the recovery may take', '3600')
    .option('--force', 'restore from a backup that is not VERIFIED (its checksum is still checked)')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', 'do not ask for the database name (needed without a terminal)')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nExamples:\n  strongbox restore-table latest --table \'"Sales".orders\' --target-url postgresql://admin@db:5432/app --dry-run\n' +
        '  PGPASSFILE=~/.pgpass strongbox restore-table latest --table public.customers --mode replace --target-url postgresql://admin@db/app --yes --json\n' +
        '  strongbox restore-table latest --table public.accounts --mode recreate --target-url postgresql://admin@db/app --dry-run   # after a DROP TABLE\n' +
        '  strongbox restore-table --time "2026-11-24 03:12:00" --table public.orders --mode replace --target-url postgresql://admin@db/app --dry-run   # before the bad UPDATE\n',
    )
    .action(async (backupId: string | undefined, flags: RestoreTableFlags & { json?: boolean }) => run((out) => restoreTableCommand(backupId, flags, out, terminalConfirm()), Boolean(flags.json)));
}
