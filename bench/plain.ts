/**
 * The baselines: what an operator would type by hand, run through bash with pipefail so
 * that a failure in any stage fails the run.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { toolEnv } from '../shared/adapters/postgres/tool-stream';
import type { PgConnection } from '../shared/ports/postgres';

/** The two plain pipelines Strongbox is compared with. */
export type PlainPipeline = 'gzip' | 'zstd';

/** Where a plain pipeline's output goes. */
export interface PlainOptions {
  /** Count the output's bytes (`| wc -c`) instead of dropping it. */
  countBytes?: boolean;
  /** Write the output to this file and fsync it (`sync FILE`), as a careful operator would; the file is removed after. */
  file?: string;
  signal?: AbortSignal;
}

/** The shell command of a plain pipeline: to /dev/null, counted, or into a file made durable. */
export function plainCommand(pipeline: PlainPipeline, options: PlainOptions = {}): string {
  const dump = pipeline === 'gzip' ? 'pg_dump --format=custom --no-password' : 'pg_dump --format=custom --compress=0 --no-password | zstd -1 -T2 -q -c';
  if (options.file !== undefined) return `${dump} > ${shellQuote(options.file)} && sync ${shellQuote(options.file)}`;
  return `${dump} ${options.countBytes ? '| wc -c' : '> /dev/null'}`;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** One timed run of a plain pipeline. */
export interface PlainRun {
  ms: number;
  /** The output's size, when it was counted. */
  bytes?: number;
}

/**
 * Runs a plain pipeline against `conn` (passed in the environment, as Strongbox passes
 * it) and times it (the removal of `options.file` is not timed). The pipeline runs in its own process group, killed whole on abort.
 *
 * @throws Error when a stage exits non-zero (with the tail of stderr) or on abort.
 */
export async function runPlain(conn: PgConnection, pipeline: PlainPipeline, options: PlainOptions = {}): Promise<PlainRun> {
  try {
    return await runCommand(conn, plainCommand(pipeline, options), options);
  } finally {
    if (options.file !== undefined) await rm(options.file, { force: true });
  }
}

function runCommand(conn: PgConnection, command: string, options: PlainOptions): Promise<PlainRun> {
  return new Promise((resolve, reject) => {
    options.signal?.throwIfAborted();
    const started = performance.now();
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { env: toolEnv(conn), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    const onAbort = (): void => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const ms = performance.now() - started;
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) return reject(options.signal.reason);
      if (code !== 0) return reject(new Error(`\`${command}\` failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      resolve(options.countBytes ? { ms, bytes: Number(stdout.trim()) } : { ms });
    });
  });
}
