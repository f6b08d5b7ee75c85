import type { Command } from 'commander';
import { ConsoleAlertPublisher } from '../../adapters/sns/console-alerts';
import { InterruptedError } from '../../errors';
import { startLocalServer, type LocalServer } from '../../local/server';
import { stderrLog } from '../../local/stderr-log';
import type { CommandRunner, Output } from '../output';

/**
 * A signal this soon after the one that started the stop is the same Ctrl-C again: `npm`
 * forwards the terminal's SIGINT to its child, which already got it from the terminal.
 */
const SAME_CTRL_C_MS = 1_000;

/** What stops `npm start`: the signals, and stdout's reader going away. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs local mode until Ctrl-C (SIGINT), SIGTERM, SIGHUP or its stdout's reader is gone
 * (EPIPE: `npm start | tee log` when tee is stopped). Then it drains and stops (each step on
 * stderr); a second Ctrl-C stops running backups without waiting. Returns 0 after a clean stop.
 */
export async function startCommand(out: Output): Promise<number> {
  const starting = new AbortController();
  const cutStart = new AbortController();
  let server: LocalServer | undefined;
  let firstAt: number | undefined;
  let stdoutGone = false;
  const request = (why: string, canCut: boolean) => {
    const now = Date.now();
    if (firstAt !== undefined) {
      if (!canCut || now - firstAt < SAME_CTRL_C_MS) return;
      cutStart.abort();
      void server?.stop(why);
      return;
    }
    firstAt = now;
    if (server) void server.stop(why);
    else starting.abort(new InterruptedError(why));
  };
  const onSignal = (signal: NodeJS.Signals) => request(signal, true);
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    // Later lines go to stderr; the stop says its steps there anyway.
    stdoutGone = true;
    request(`stdout closed: ${error.code ?? error.message}`, false);
  };
  // A stderr that is gone cannot be told anything: its errors must not crash the stop.
  const onStderrError = () => undefined;
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  process.stdout.on('error', onStdoutError);
  process.stderr.on('error', onStderrError);
  try {
    server = await startLocalServer({
      env: process.env,
      cwd: process.cwd(),
      log: stderrLog(process.env.STRONGBOX_LOG === '1', out.stderr),
      say: (line) => (stdoutGone ? out.stderr(`${line}\n`) : out.stdout(`${line}\n`)),
      note: (line) => out.stderr(`${line}\n`),
      // On a terminal an alert reads as severity, type, message and hint; JSON lines otherwise.
      alertsConsole: new ConsoleAlertPublisher(out.stderr, out.interactive ? 'human' : 'json'),
      signal: starting.signal,
      cut: cutStart.signal,
    });
    // A stop asked for while the last start step was settling.
    if (firstAt !== undefined) void server.stop('stop asked while starting');
    await server.stopped;
    return 0;
  } finally {
    for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
    process.stdout.removeListener('error', onStdoutError);
    process.stderr.removeListener('error', onStderrError);
  }
}

/** Registers `start`. */
export function registerStart(program: Command, run: CommandRunner): void {
  program
    .command('start')
    .description('run local mode: schedules, catalog and (without DATABASE_URL) a demo PostgreSQL, until Ctrl-C (drains running backups, then stops)')
    .addHelpText('after', '\nExamples:\n  npm start\n  DATABASE_URL=postgresql://me:secret@127.0.0.1/app npm start\n')
    .action(async () => run((out) => startCommand(out), false));
}
