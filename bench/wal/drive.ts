/**
 * Plays PostgreSQL's archiver over a fake data directory: for each segment, oldest first,
 * `sh -c '<archive_command with %p and %f>'` as the server's OS user with the data
 * directory as cwd, one at a time; exit 0 turns `.ready` into `.done`. A failure is retried
 * as PostgreSQL retries it (after 1 s, up to 3 failures in a row; the pause is on the clock,
 * as it is for PostgreSQL) and counted; a fourth failure in a row fails the pass.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { serverUserIds } from '../../shared/adapters/postgres/cluster';
import type { FakeDataDir } from './source';

/** What one archiving pass took. */
export interface PassResult {
  /** Wall time from the first command's start to the last one's exit, ms. */
  ms: number;
  /** Each segment's wall time until its command succeeded (retries included), ms, in order. */
  perSegmentMs: number[];
  /** Commands that exited non-zero and were retried. */
  failures: number;
  /** The last failure's message, if any. */
  lastFailure?: string;
}

/** PostgreSQL's archiver: 3 failures in a row, 1 s apart, then a longer pause (we give up instead). */
const MAX_FAILURES_IN_A_ROW = 3;

/**
 * Archives `names` through `command` (`%p` → `pg_wal/<name>`, `%f` → `<name>`).
 *
 * @throws Error naming the segment, the exit status and the command's stderr when a command
 *   fails, or the abort reason.
 */
export async function archivePass(command: string, dataDir: FakeDataDir, names: readonly string[], signal?: AbortSignal): Promise<PassResult> {
  const perSegmentMs: number[] = [];
  let failures = 0;
  let lastFailure: string | undefined;
  const started = performance.now();
  for (const name of names) {
    const from = performance.now();
    for (let inARow = 0; ; inARow++) {
      signal?.throwIfAborted();
      try {
        await runArchiveCommand(command.replaceAll('%p', `pg_wal/${name}`).replaceAll('%f', name), dataDir.dir, signal);
        break;
      } catch (error) {
        if (signal?.aborted || inARow + 1 >= MAX_FAILURES_IN_A_ROW) throw error;
        failures++;
        lastFailure = error instanceof Error ? error.message : String(error);
        await sleep(1000, undefined, signal ? { signal } : {});
      }
    }
    perSegmentMs.push(performance.now() - from);
    await dataDir.markDone(name);
  }
  return { ms: performance.now() - started, perSegmentMs, failures, ...(lastFailure ? { lastFailure } : {}) };
}

/** The environment PostgreSQL's children get here: a PATH and the postgres user's HOME. */
export function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/var/lib/postgresql', LANG: 'C.UTF-8' };
}

async function runArchiveCommand(command: string, cwd: string, signal?: AbortSignal): Promise<void> {
  const ids = process.getuid?.() === 0 ? await serverUserIds() : undefined;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env: serverEnv(), stdio: ['ignore', 'ignore', 'pipe'], ...(ids ? { uid: ids.uid, gid: ids.gid } : {}) });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', reject);
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (code === 0) return resolve();
      reject(new Error(`archive command \`${command}\` failed (${sig ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}
