/**
 * Runs the operator's post-restore command (`--after 'npx prisma migrate deploy'`) through
 * /bin/sh, with the restored database named in libpq's variables. Its output goes to this
 * process's stderr (stdout is the report's), and its last lines are kept for the report.
 */
import { spawn } from 'node:child_process';

/** How the command ended. */
export interface AfterCommandOutcome {
  /** The exit status, or null when it was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  /** The last lines it printed (stdout and stderr), for an error message. */
  tail: string;
}

const TAIL_CHARS = 4 * 1024;

/**
 * Runs `command` with `/bin/sh -c` in this process's environment plus `env`, and waits for it.
 * Never throws for a failing command: the caller judges the outcome.
 */
export async function runAfterCommand(command: string, env: Record<string, string>, options: { signal?: AbortSignal; echo?: (chunk: string) => void } = {}): Promise<AfterCommandOutcome> {
  const child = spawn('/bin/sh', ['-c', command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(options.signal ? { signal: options.signal } : {}) });
  let tail = '';
  const take = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    options.echo?.(text);
    tail = (tail + text).slice(-TAIL_CHARS);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ exitCode: null, signal: null, tail: `${tail}${error.message}` }));
    child.once('close', (code, signal) => resolve({ exitCode: code, signal, tail }));
  });
}
