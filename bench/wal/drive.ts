/**
 * Plays PostgreSQL's archiver over a fake data directory (or, with another `%p` and
 * `markDone`, its startup process running restore_command): for each segment, oldest first,
 * `sh -c '<archive_command with %p and %f>'` as the server's OS user with the data
 * directory as cwd, one at a time; exit 0 turns `.ready` into `.done`. A failure is retried
 * as PostgreSQL retries it (after 1 s, up to 3 failures in a row; the pause is on the clock,
 * as it is for PostgreSQL) and counted; a fourth failure in a row fails the pass.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
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

/**
 * Writes every dirty page of the machine to disk (`sync`). Run before each pass, so that no
 * pass pays the writeback of what an earlier one (or the set-up) left in the page cache:
 * s3rver does not fsync its objects, and the next pass's fsyncs then wait for them. It is
 * also the state PostgreSQL leaves: it fsyncs a segment before it marks it `.ready`.
 */
export async function flushPageCache(): Promise<void> {
  await new Promise<void>((done, fail) => execFile('sync', (error) => (error ? fail(error) : done())));
}

/** CPU time the whole machine spent so far (every core, every process: /proc/stat), ms; undefined where there is no /proc. */
export async function machineBusyMs(): Promise<number | undefined> {
  const first = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0] ?? '';
  if (!first.startsWith('cpu ')) return undefined;
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait, in USER_HZ (10 ms).
  const [user, nice, system, , , irq, softirq, steal] = first.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
}

/** PostgreSQL's archiver: 3 failures in a row, 1 s apart, then a longer pause (we give up instead). */
const MAX_FAILURES_IN_A_ROW = 3;

/**
 * Archives `names` through `command` (`%p` → `pg_wal/<name>`, `%f` → `<name>`).
 *
 * @throws Error naming the segment, the exit status and the command's stderr when a command
 *   fails, or the abort reason.
 */
export async function archivePass(command: string, dataDir: FakeDataDir, names: readonly string[], signal?: AbortSignal, pathOf: (name: string) => string = (name) => `pg_wal/${name}`): Promise<PassResult> {
  const perSegmentMs: number[] = [];
  let failures = 0;
  let lastFailure: string | undefined;
  const archiver = await startArchiverProcess(dataDir.dir);
  try {
    const started = performance.now();
    for (const name of names) {
      const from = performance.now();
      for (let inARow = 0; ; inARow++) {
        signal?.throwIfAborted();
        try {
          await archiver.run(command.replaceAll('%p', pathOf(name)).replaceAll('%f', name), signal);
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
  } finally {
    archiver.stop();
  }
}

/** The environment PostgreSQL's children get here: a PATH and the postgres user's HOME. */
export function serverEnv(): NodeJS.ProcessEnv {
  // STRONGBOX_BENCH_NODE_OPTIONS reaches the archiver's Node processes (e.g. a --require that profiles them).
  const nodeOptions = process.env.STRONGBOX_BENCH_NODE_OPTIONS;
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/var/lib/postgresql', LANG: 'C.UTF-8', ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) };
}

/**
 * PostgreSQL's archiver is a small process that runs `sh -c '<archive_command>'` per
 * segment. Forking the benchmark's own process instead would cost each command the page
 * tables of everything the benchmark holds (tens of ms per fork when the in-process
 * endpoint has just handled 16 MiB bodies), and charge that to the archiver under test.
 * So a small shell, as the server's OS user with the data directory as cwd, runs them:
 * one command line in, its exit status out, its stderr in a file read after a failure.
 */
const ARCHIVER_SCRIPT = `err="$1"
while IFS= read -r command; do
  /bin/sh -c "$command" </dev/null >/dev/null 2>"$err"
  echo "$?"
done`;

interface ArchiverProcess {
  /** Runs one command; rejects with its status and stderr when it fails. */
  run(command: string, signal?: AbortSignal): Promise<void>;
  stop(): void;
}

async function startArchiverProcess(cwd: string): Promise<ArchiverProcess> {
  const ids = process.getuid?.() === 0 ? await serverUserIds() : undefined;
  const errFile = join(cwd, 'archiver.stderr');
  const child = spawn('/bin/sh', ['-c', ARCHIVER_SCRIPT, 'bench-archiver', errFile], { cwd, env: serverEnv(), stdio: ['pipe', 'pipe', 'ignore'], ...(ids ? { uid: ids.uid, gid: ids.gid } : {}) });
  child.stdin.on('error', () => undefined);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async run(command, signal) {
      const onAbort = () => child.kill('SIGTERM');
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        child.stdin.write(`${command}\n`);
        const answer = await lines.next();
        if (signal?.aborted) throw signal.reason;
        if (answer.done) throw new Error(`the archiver shell stopped while running \`${command}\``);
        if (answer.value === '0') return;
        const stderr = await readFile(errFile, 'utf8').catch(() => '');
        throw new Error(`archive command \`${command}\` failed (exit ${answer.value}): ${stderr.trim().slice(-2000)}`);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    stop() {
      child.stdin.end();
    },
  };
}
