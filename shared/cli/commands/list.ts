import type { Command } from 'commander';
import type { BackupEntry } from '../../domain/backup';
import { configuredDatabaseNames } from '../../local/databases';
import { catalogLooksLost, checkDatabaseName } from '../../usecases/database-names';
import { formatBytes, printResult, type CommandRunner, type Output } from '../output';
import { withSession } from '../session';
import { backupSummary } from './backup';

/** How long a reason may be in the table; `--json` has it whole. */
const REASON_WIDTH = 120;

/**
 * The KIND column, from what the catalog records: `base` (pg_basebackup of the cluster, for
 * `pitr`), `table` (a logical backup of some tables, for `restore-table`), `logical` (pg_dump
 * of a whole database, for `restore`).
 */
export function kindOf(entry: Pick<BackupEntry, 'kind' | 'scope'>): 'base' | 'table' | 'logical' {
  if (entry.kind === 'base') return 'base';
  return entry.scope === 'tables' ? 'table' : 'logical';
}

/** The SCOPE column: what the backup holds. */
function scopeOf(entry: BackupEntry): string {
  if (entry.kind === 'base') return 'cluster';
  if (entry.scope === 'tables') return `tables ${entry.tables?.join(' ') ?? ''}`.trimEnd();
  return entry.globalsKey ? 'database+globals' : 'database';
}

/** A reason on one line (a pg_dump error spans several), cut at REASON_WIDTH characters. */
export function oneLine(text: string, width = REASON_WIDTH): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/**
 * The human table of `list`: one line per entry, whatever its reason holds. When there is
 * none, says so for `database` (the `--database` asked about), and points at `catalog
 * rebuild` instead of a first backup when `catalogLost` (empty catalog, objects in storage).
 */
export function listTable(entries: BackupEntry[], empty: { database?: string; catalogLost?: boolean } = {}): string {
  if (!entries.length) {
    if (empty.catalogLost) return 'No backups in the catalog, but the storage holds objects: the catalog is new or was lost. Run `strongbox catalog rebuild` to index the backups again.';
    return empty.database
      ? `No backups of "${empty.database}" in the catalog yet. Take one with \`strongbox backup --database ${empty.database}\`.`
      : 'No backups in the catalog yet. Take one with `strongbox backup`.';
  }
  const rows = entries.map((entry) => [
    entry.id,
    entry.database,
    kindOf(entry),
    entry.tier,
    oneLine(scopeOf(entry)),
    entry.state,
    entry.bytes === undefined ? '-' : formatBytes(entry.bytes),
    entry.startedAt,
    oneLine(entry.reason ?? ''),
  ]);
  const header = ['ID', 'DATABASE', 'KIND', 'TIER', 'SCOPE', 'STATE', 'SIZE', 'STARTED', 'REASON'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/**
 * Runs `strongbox list`: the catalog, newest first. Throws UnknownDatabaseError when
 * `--database` names a database neither configured nor in the catalog (a typing mistake
 * must not read as "no backups").
 */
export async function listCommand(flags: { database?: string; limit?: string }, out: Output): Promise<number> {
  return withSession(out, async ({ context, config, env }) => {
    const limit = flags.limit ? Number(flags.limit) : undefined;
    const entries = flags.database
      ? await context.catalog.listByDatabase(flags.database, limit ? { limit } : {})
      : await context.catalog.listAll(limit ? { limit } : {});
    if (!entries.length && flags.database) await checkDatabaseName(context, { name: flags.database, configured: configuredDatabaseNames(config, env, context.paths) });
    const catalogLost = !entries.length && !out.json && (await catalogLooksLost(context));
    printResult(
      out,
      entries.map((entry) => ({ ...backupSummary(entry), kind: entry.kind, scope: entry.scope, lastValidation: entry.lastValidation ?? null })),
      listTable(entries, { ...(flags.database ? { database: flags.database } : {}), catalogLost }),
    );
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
    .addHelpText(
      'after',
      '\nKIND is logical (a whole database: `restore`), table (some tables: `restore-table`) or base (the cluster: `pitr`); a long REASON is cut to one line (--json has it whole).\n' +
        '\nExample:\n  strongbox list --database app --limit 10\n',
    )
    .action(async (flags: { database?: string; limit?: string; json?: boolean }) => run((out) => listCommand(flags, out), Boolean(flags.json)));
}
