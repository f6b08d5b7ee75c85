import { Command, CommanderError } from 'commander';
import { muteSdkNodeVersionWarning } from '../runtime/node-warnings';
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
import { EXIT_CODE, printFailure, processOutput, type Output } from './output';

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

async function main(argv: string[]): Promise<void> {
  muteSdkNodeVersionWarning();
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? EXIT_CODE.ok : EXIT_CODE.usage;
      return;
    }
    throw error;
  }
}

void main(process.argv);
