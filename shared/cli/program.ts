/**
 * The `strongbox` program: every command registered on one commander program (main.ts
 * parses argv with it; tests walk its commands). wal-push and wal-fetch are not here: bin/strongbox.js
 * sends them to the self-contained WAL program (shared/wal-host/main.ts).
 */
import { Command } from 'commander';
import { STRONGBOX_VERSION } from '../runtime/version';
import { registerBackup } from './commands/backup';
import { registerCatalog } from './commands/catalog';
import { registerDoctor } from './commands/doctor';
import { registerExportCsv } from './commands/export-csv';
import { registerList } from './commands/list';
import { registerRestore } from './commands/restore';
import { registerRestorePoint } from './commands/restore-point';
import { registerRestoreTable } from './commands/restore-table';
import { registerPitr } from './commands/pitr';
import { registerRetention } from './commands/retention';
import { registerStart } from './commands/start';
import { registerStatus } from './commands/status';
import { registerValidate } from './commands/validate';
import { printFailure, processOutput, type Output } from './output';

/** Runs one command's action with the shared output and failure conventions. */
async function run(action: (out: Output) => Promise<number>, json: boolean): Promise<void> {
  const out = processOutput(json);
  try {
    process.exitCode = await action(out);
  } catch (error) {
    process.exitCode = printFailure(out, error);
  }
}

/** The `strongbox` program. Exit codes: 0 ok, 1 failed or refused, 2 usage. */
export function buildProgram(): Command {
  const program = new Command('strongbox')
    .description('Backups and disaster recovery for PostgreSQL: local mode and AWS')
    .version(STRONGBOX_VERSION)
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      '\nThe archiver commands run as their own small program (PostgreSQL calls them for every WAL file):\n' +
        '  strongbox wal-push <path>         archive_command (strongbox wal-push --help)\n' +
        '  strongbox wal-fetch <name> <path> restore_command (strongbox wal-fetch --help)\n' +
        '\nExample:\n  strongbox backup --database app && strongbox list --database app\n',
    )
    .exitOverride();
  registerStart(program, run);
  registerBackup(program, run);
  registerList(program, run);
  registerExportCsv(program, run);
  registerCatalog(program, run);
  registerRestore(program, run);
  registerRestoreTable(program, run);
  registerValidate(program, run);
  registerRetention(program, run);
  registerStatus(program, run);
  registerDoctor(program, run);
  registerRestorePoint(program, run);
  registerPitr(program, run);
  return program;
}
