/**
 * pg_restore and zstd on the machine's binaries, behind the restore's RestoreTools port. The
 * connection travels in the child's environment (toolEnv), never in argv.
 */
import type { RestoreTools } from '../../ports/restore';
import { applyGlobalsScript } from './globals';
import { runPipeline, toolEnv } from './tool-stream';
import type { ToolStream } from '../../ports/postgres';

/** The real pg_restore and zstd. */
export const pgRestoreTools: RestoreTools = {
  async listArchive(file, signal) {
    const tool = runPipeline([{ command: 'pg_restore', args: ['--list', file] }], { env: process.env, ...(signal ? { signal } : {}) });
    let text = '';
    tool.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    await finished(tool);
    return text;
  },

  async restoreArchive(conn, file, { jobs, signal }) {
    const args = ['--no-owner', '--no-acl', '--exit-on-error', '--no-password', `--jobs=${jobs}`, `--dbname=${dbnameConninfo(conn.database)}`, file];
    const tool = runPipeline([{ command: 'pg_restore', args }], { env: toolEnv(conn), conn, ...(signal ? { signal } : {}) });
    await finished(tool);
  },

  async restoreStream(conn, input, { compression, signal }) {
    // No --jobs: a parallel restore cannot read a pipe. One transaction: a stream cut short
    // (or found damaged at its end) leaves nothing in the database.
    const restore = { command: 'pg_restore', args: ['--no-owner', '--no-acl', '--exit-on-error', '--single-transaction', '--no-password', `--dbname=${dbnameConninfo(conn.database)}`] };
    const steps = compression === 'zstd' ? [{ command: 'zstd', args: ['-d', '-q', '-c'] }, restore] : [restore];
    const tool = runPipeline(steps, { env: toolEnv(conn), conn, stdin: input, ...(signal ? { signal } : {}) });
    await finished(tool);
  },

  applyGlobals: (conn, file, signal) => applyGlobalsScript(conn, file, signal),

  async decompress(source, destination, signal) {
    const tool = runPipeline([{ command: 'zstd', args: ['-d', '-q', '-f', source, '-o', destination] }], { env: process.env, ...(signal ? { signal } : {}) });
    await finished(tool);
  },
};

/** Drains the tool's output and waits for its exit; its failure arrives once, through `done`. */
function finished(tool: ToolStream): Promise<void> {
  // runPipeline also destroys stdout with the error: without a listener it would be unhandled.
  tool.stdout.on('error', () => undefined);
  tool.stdout.resume();
  return tool.done;
}

/**
 * `dbname='…'`: libpq reads a --dbname holding `=` or starting with a URI scheme as a
 * connection string, so a database name is always passed as one, quoted.
 */
export function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
