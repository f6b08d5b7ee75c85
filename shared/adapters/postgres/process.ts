/**
 * Runs a short-lived command to completion and collects its output; as the `postgres` OS
 * user when this process is root (initdb and the server refuse to run as root).
 */
import { spawn } from 'node:child_process';

/** What a finished command left behind. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The OS user that owns and runs clusters when this process is root. */
export const SERVER_OS_USER = 'postgres';

/** True when this process runs as root, so server binaries must run through runuser. */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Runs `command` and resolves with its exit status and output (never rejects for a non-zero
 * exit; rejects only when the command cannot be started, e.g. ENOENT).
 */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a server binary as the server's OS user: through `runuser` when root, directly otherwise. */
export function runAsServerUser(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  if (!isRoot()) return runCommand(command, args, options);
  return runCommand('runuser', ['-u', SERVER_OS_USER, '--', command, ...args], options);
}
