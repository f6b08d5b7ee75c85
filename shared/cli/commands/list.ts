import type { Command } from 'commander';
import type { BackupEntry } from '../../domain/backup';
import { formatBytes, printResult, type CommandRunner, type Output } from '../output';
import { withSession } from '../session';
import { backupSummary } from './backup';

function table(entries: BackupEntry[]): string {
  if (!entries.length) return 'No backups in the catalog yet. Take one with `strongbox backup`.';
  const rows = entries.map((entry) => [
    entry.id,
    entry.database,
    entry.tier,
    entry.scope === 'tables' ? `tables ${entry.tables?.join(' ') ?? ''}` : 'full',
    entry.state,
    entry.bytes === undefined ? '-' : formatBytes(entry.bytes),
    entry.startedAt,
    entry.reason ?? '',
  ]);
  const header = ['ID', 'DATABASE', 'TIER', 'SCOPE', 'STATE', 'SIZE', 'STARTED', 'REASON'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** Runs `strongbox list`: the catalog, newest first. */
export async function listCommand(flags: { database?: string; limit?: string }, out: Output): Promise<number> {
  return withSession(out, async ({ context }) => {
    const limit = flags.limit ? Number(flags.limit) : undefined;
    const entries = flags.database
      ? await context.catalog.listByDatabase(flags.database, limit ? { limit } : {})
      : await context.catalog.listAll(limit ? { limit } : {});
    printResult(out, entries.map((entry) => ({ ...backupSummary(entry), kind: entry.kind, scope: entry.scope, lastValidation: entry.lastValidation ?? null })), table(entries));
    return 0;
  });
}

/** Registers `list`. */
export function registerList(program: Command, run: CommandRunner): void {
  program
    .command('list')
    .description('list the backups in the catalog, newest first')
    .option('--database <name>', 'only this database')
    .option('--limit <n>', 'at most n entries')
    .option('--json', 'print a JSON array')
    .addHelpText('after', '\nExample:\n  strongbox list --database app --limit 10\n')
    .action(async (flags: { database?: string; limit?: string; json?: boolean }) => run((out) => listCommand(flags, out), Boolean(flags.json)));
}
