/**
 * pg_restore for a table restore, behind the TableRestoreTools port: the table of contents with
 * dependencies, and a restore of chosen entries (`-L`). The connection travels in the child's
 * environment (toolEnv), never in argv.
 */
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TableRestoreTools } from '../../ports/restore-table';
import { dbnameConninfo } from './restore-tools';
import { runPipeline, toolEnv } from './tool-stream';
import type { ToolStream } from '../../ports/postgres';

/** The real pg_restore. The `-L` list is written beside the archive (a private folder). */
export const pgTableRestoreTools: TableRestoreTools = {
  async listArchive(file, signal) {
    const tool = runPipeline([{ command: 'pg_restore', args: ['--list', '--verbose', file] }], { env: process.env, ...(signal ? { signal } : {}) });
    const chunks: Buffer[] = [];
    tool.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    await finished(tool);
    // Decoded whole: a name's multi-byte character may straddle two chunks.
    return Buffer.concat(chunks).toString('utf8');
  },

  async restoreListed(conn, file, list, signal) {
    const listFile = join(dirname(file), `toc-${process.pid}-${Date.now()}.list`);
    await writeFile(listFile, list, { mode: 0o600 });
    const args = ['--no-owner', '--no-acl', '--exit-on-error', '--no-password', '--single-transaction', `--use-list=${listFile}`, `--dbname=${dbnameConninfo(conn.database)}`, file];
    const tool = runPipeline([{ command: 'pg_restore', args }], { env: toolEnv(conn), conn, ...(signal ? { signal } : {}) });
    await finished(tool);
  },

  async scriptOf(file, line, signal) {
    const listFile = join(dirname(file), `entry-${process.pid}-${Date.now()}-${line.split(';')[0] ?? ''}.list`);
    await writeFile(listFile, `${line}\n`, { mode: 0o600 });
    try {
      const tool = runPipeline([{ command: 'pg_restore', args: ['--no-owner', '--file=-', `--use-list=${listFile}`, file] }], { env: process.env, ...(signal ? { signal } : {}) });
      const chunks: Buffer[] = [];
      tool.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      await finished(tool);
      return Buffer.concat(chunks).toString('utf8');
    } finally {
      await rm(listFile, { force: true });
    }
  },
};

/** Drains the tool's output and waits for its exit; its failure arrives once, through `done`. */
function finished(tool: ToolStream): Promise<void> {
  tool.stdout.on('error', () => undefined);
  tool.stdout.resume();
  return tool.done;
}
