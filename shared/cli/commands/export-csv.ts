import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { exportCsv } from '../../adapters/postgres/tools';
import { loadConfig } from '../../local/config-file';
import { resolveDatabase } from '../../local/databases';
import { resolveHome } from '../../local/home';
import { printResult, type CommandRunner, type Output } from '../output';

interface ExportFlags {
  table: string;
  out: string;
  database?: string;
  databaseUrl?: string;
}

/**
 * Runs `strongbox export-csv`: one table as CSV with a header (the runbook's export). The
 * file appears whole or not at all (written beside it, then renamed); `--out -` writes
 * to stdout.
 */
export async function exportCsvCommand(flags: ExportFlags, out: Output): Promise<number> {
  const { config } = loadConfig(process.env, process.cwd());
  const target = resolveDatabase({ name: flags.database, url: flags.databaseUrl }, config, process.env, resolveHome(process.env, process.cwd()));
  if (flags.out === '-') {
    const { rows } = await exportCsv(target.connection, flags.table, process.stdout);
    out.stderr(out.interactive ? `${rows} rows exported\n` : '');
    return 0;
  }
  const destination = resolve(flags.out);
  const temp = join(dirname(destination), `.${basename(destination)}.${process.pid}.partial`);
  try {
    const { rows } = await exportCsv(target.connection, flags.table, createWriteStream(temp, { mode: 0o600 }));
    await rename(temp, destination);
    printResult(out, { table: flags.table, database: target.name, rows, file: destination }, `${rows} rows of ${flags.table} exported to ${destination}`);
    return 0;
  } finally {
    await rm(temp, { force: true });
  }
}

/** Registers `export-csv`. */
export function registerExportCsv(program: Command, run: CommandRunner): void {
  program
    .command('export-csv')
    .description('export one table as CSV with a header row')
    .requiredOption('--table <pattern>', 'the table (pg_dump pattern rules; must match exactly one)')
    .requiredOption('--out <file>', 'the CSV file to write, or - for stdout')
    .option('--database <name>', 'a database from strongbox.config.json (or "demo")')
    .option('--database-url <url>', 'postgresql://user@host:port/db — no password here')
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExample:\n  strongbox export-csv --database app --table public.tickets --out tickets.csv\n')
    .action(async (flags: ExportFlags & { json?: boolean }) => run((out) => exportCsvCommand(flags, out), Boolean(flags.json)));
}
