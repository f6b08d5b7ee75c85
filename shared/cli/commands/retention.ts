import type { Command } from 'commander';
import { retentionPolicyFromConfig } from '../../domain/retention';
import { InputError } from '../../errors';
import type { StrongboxConfig } from '../../config';
import type { LocalContext } from '../../local/context';
import { localProcesses } from '../../local/processes';
import { applyRetention, type RetentionDeps, type RetentionItem, type RetentionReport } from '../../usecases/retention';
import { formatBytes, printResult, UsageError, type CommandRunner, type Output } from '../output';
import { withSession } from '../session';
import { terminalConfirm, type Confirm } from './restore';

interface RetentionFlags {
  database?: string;
  yes?: boolean;
}

/** The word an operator types to confirm a deletion on a terminal. */
export const CONFIRM_WORD = 'delete';

function rows(report: RetentionReport): string[] {
  const line = (action: string, entry: RetentionItem, detail: string) =>
    [action.padEnd(7), entry.id.padEnd(26), entry.database, entry.tier, entry.state, entry.startedAt, detail].join('  ');
  return [
    ...report.deleted.map((entry) => line(report.dryRun ? 'DELETE' : 'DELETED', entry, `${entry.reason} [${entry.rule}] ${formatBytes(entry.bytes)}`)),
    ...report.failed.map((entry) => line('FAILED', entry, `${entry.reason} [${entry.rule}] — ${entry.code}: ${entry.message}`)),
    ...report.skipped.map((entry) => line('SKIPPED', entry, `${entry.reason} [${entry.rule}] — ${entry.why}`)),
    ...report.locked.map((entry) => line('LOCKED', entry, `${entry.reason} [${entry.rule}]`)),
    ...report.cold.map((entry) => line('COLD', entry, `${entry.reason} [${entry.rule}]`)),
    ...report.kept.map((entry) => line('KEEP', entry, `${entry.reason} [${entry.rule}]`)),
  ];
}

/** One line per database's WAL: its cut-off per timeline, or why it is all kept. */
function walRows(report: RetentionReport): string[] {
  return report.wal.map((wal) => {
    const cut = wal.timelines.map((line) => `timeline ${line.timeline} below ${line.deleteBelow}`).join(', ');
    const done = wal.action === 'delete' ? ` ${report.dryRun ? 'up to ' : ''}${wal.segments} segment(s)${wal.bytes ? `, ${formatBytes(wal.bytes)}` : ''}${wal.locked ? `, ${wal.locked} LOCKED` : ''}` : '';
    const verb = wal.action === 'keep' ? 'WAL KEEP' : report.dryRun ? 'WAL DELETE' : 'WAL DELETED';
    return [verb.padEnd(11), wal.database, cut, `${wal.reason} [${wal.rule}]${done}`].filter(Boolean).join('  ');
  });
}

/** The report for humans: one line per backup, with its rule, then the totals and notes. */
export function reportText(report: RetentionReport): string {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const totals =
    `${verb} ${report.deleted.length} (${formatBytes(report.bytesFreed)}), keep ${report.kept.length}, cold ${report.cold.length}` +
    (report.skipped.length ? `, skipped ${report.skipped.length}` : '') +
    (report.failed.length ? `, FAILED ${report.failed.length}` : '') +
    (report.locked.length ? `, locked ${report.locked.length}` : '');
  const unfinished = report.unfinished.discarded.map(
    (write) => `${report.dryRun ? 'UNFINISHED DISCARD' : 'UNFINISHED DISCARDED'}  ${write.key ?? '(unknown key)'}  ${write.reason} [${write.rule}]${write.bytes !== undefined ? ` ${formatBytes(write.bytes)}` : ''}`,
  );
  const points = report.restorePoints.deleted.length ? [`${report.dryRun ? 'would drop' : 'dropped'} ${report.restorePoints.deleted.length} restore point(s) older than ${report.policy.restorePointHours} h, keep ${report.restorePoints.kept}`] : [];
  return [
    `Retention ${report.dryRun ? 'plan' : 'applied'} at ${report.at}: ${totals}`,
    ...rows(report).map((row) => `  ${row}`),
    ...walRows(report).map((row) => `  ${row}`),
    ...unfinished.map((row) => `  ${row}`),
    ...points.map((row) => `  ${row}`),
    ...report.notes.map((note) => `note: ${note}`),
  ].join('\n');
}

/** The retention deps of a CLI session: its context, plus how the unfinished-write sweep tells a dead writer. */
function retentionDeps(context: LocalContext, config: StrongboxConfig): RetentionDeps {
  return { ...context, processes: localProcesses, staleAfterMs: config.staleAfterSeconds * 1000 };
}

function policyOf(config: unknown) {
  // The section is read raw so that it works whether or not the config schema lists it yet.
  return retentionPolicyFromConfig((config as { retention?: unknown }).retention);
}

/** Runs `strongbox retention plan`: what retention would do, with the rule behind each decision. Changes nothing. */
export async function retentionPlanCommand(flags: RetentionFlags, out: Output): Promise<number> {
  return withSession(out, async ({ context, config }) => {
    const report = await applyRetention(retentionDeps(context, config), { policy: policyOf(config), dryRun: true, ...(flags.database ? { database: flags.database } : {}) });
    printResult(out, report, `${reportText(report)}\n(nothing was changed: \`strongbox retention apply\` applies it)`);
    return 0;
  });
}

/**
 * Runs `strongbox retention apply`. Without `--yes` it shows the plan on a terminal and
 * asks for the word "delete", then deletes only the backups it showed. Returns 0, or 1
 * when a deletion failed; throws UsageError (exit 2) without `--yes` and without a
 * terminal, InputError (exit 1) when the operator does not confirm.
 */
export async function retentionApplyCommand(flags: RetentionFlags, out: Output, confirm: Confirm): Promise<number> {
  if (!flags.yes && !confirm) {
    throw new UsageError('retention apply deletes backups and there is no terminal to confirm on', 'pass --yes to confirm, or run `strongbox retention plan` to see what it would delete');
  }
  return withSession(out, async ({ context, config }) => {
    const policy = policyOf(config);
    const scope = flags.database ? { database: flags.database } : {};
    let only: Set<string> | undefined;
    let onlyWal: Set<string> | undefined;
    if (!flags.yes && confirm) {
      const preview = await applyRetention(retentionDeps(context, config), { policy, dryRun: true, ...scope });
      out.stderr(`${reportText(preview)}\n`);
      const walDatabases = new Set([...preview.wal.filter((wal) => wal.action === 'delete').map((wal) => wal.database), ...preview.restorePoints.deleted.map((point) => point.database)]);
      if (preview.deleted.length === 0 && walDatabases.size === 0) {
        printResult(out, preview, 'Nothing to delete.');
        return 0;
      }
      const wal = walDatabases.size ? ` and the WAL / restore points above of ${[...walDatabases].join(', ')}` : '';
      const answer = (await confirm(`Type "${CONFIRM_WORD}" to delete ${preview.deleted.length} backup(s), ${formatBytes(preview.bytesFreed)}${wal}: `)).trim();
      if (answer !== CONFIRM_WORD) throw new InputError(`retention cancelled: "${answer}" is not "${CONFIRM_WORD}"`, `run it again and type ${CONFIRM_WORD}, or pass --yes`);
      only = new Set(preview.deleted.map((entry) => entry.id));
      onlyWal = walDatabases;
    }
    const report = await applyRetention(retentionDeps(context, config), { policy, dryRun: false, ...scope, ...(only ? { only } : {}), ...(onlyWal ? { onlyWal } : {}) });
    printResult(out, report, reportText(report));
    return report.failed.length ? 1 : 0;
  });
}

/** Registers `retention plan` and `retention apply`. */
export function registerRetention(program: Command, run: CommandRunner): void {
  const retention = program
    .command('retention')
    .description('delete backups past their tier\'s window (daily 30 d, weekly 90 d, monthly 365 d; the newest verified backup always kept), WAL older than the PITR window (7 d) needs, restore points after 24 h')
    .addHelpText('after', '\nExamples:\n  strongbox retention plan\n  strongbox retention apply --yes --json\n');
  retention
    .command('plan')
    .description('show what retention would keep, move to cold storage or delete, and the rule behind each; changes nothing')
    .option('--database <name>', 'only this database')
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExamples:\n  strongbox retention plan\n  strongbox retention plan --database app --json\n')
    .action(async (flags: RetentionFlags & { json?: boolean }) => run((out) => retentionPlanCommand(flags, out), Boolean(flags.json)));
  retention
    .command('apply')
    .description('apply the plan: mark each backup in the catalog, delete its objects (manifest first), then its entry')
    .option('--database <name>', 'only this database')
    .option('--yes', `do not ask to type "${CONFIRM_WORD}" (needed without a terminal)`)
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nExit codes: 0 done, 1 a deletion failed (alerted; the next run finishes it) or cancelled, 2 no --yes without a terminal.\n' +
        'Examples:\n  strongbox retention apply            # shows the plan, asks to type "delete"\n  strongbox retention apply --yes --json\n',
    )
    .action(async (flags: RetentionFlags & { json?: boolean }) => run((out) => retentionApplyCommand(flags, out, terminalConfirm()), Boolean(flags.json)));
}
