import type { Command } from 'commander';
import { ConsoleAlertPublisher } from '../../adapters/sns/console-alerts';
import { startLocalServer } from '../../local/server';
import { stderrLog } from '../../local/stderr-log';
import type { CommandRunner, Output } from '../output';

/** Runs local mode until Ctrl-C (SIGINT) or SIGTERM; returns 0 after a clean stop. */
export async function startCommand(out: Output): Promise<number> {
  const server = await startLocalServer({
    env: process.env,
    cwd: process.cwd(),
    log: stderrLog(process.env.STRONGBOX_LOG === '1', out.stderr),
    say: (line) => out.stdout(`${line}\n`),
    // On a terminal an alert reads as severity, type, message and hint; JSON lines otherwise.
    alertsConsole: new ConsoleAlertPublisher(out.stderr, out.interactive ? 'human' : 'json'),
  });
  const onSignal = () => void server.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await server.stopped;
  return 0;
}

/** Registers `start`. */
export function registerStart(program: Command, run: CommandRunner): void {
  program
    .command('start')
    .description('run local mode: schedules, catalog and (without DATABASE_URL) a demo PostgreSQL, until Ctrl-C')
    .addHelpText('after', '\nExamples:\n  npm start\n  DATABASE_URL=postgresql://me:secret@127.0.0.1/app npm start\n')
    .action(async () => run((out) => startCommand(out), false));
}
