import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { StrongboxError } from '../errors';
import { removeQuietly } from './spool';

/**
 * Long-lived `sh` co-processes that start zstd (for every host process: the uploader and the
 * prefetcher keep theirs, wal-push and wal-fetch make one for the file they work on). Forking
 * a Node process that holds a few segments' buffers costs ~20 ms of CPU (its page tables
 * are copied); forking a shell costs well under one. Each runner takes one request at a
 * time on its stdin (four lines: `c` to compress or `d` to decompress, the output path, the
 * input path, the path for zstd's stderr) and answers one line: zstd's exit status. The
 * stderr file is read only after a failure. A runner sees its stdin close when its process
 * exits, however it exits, and ends with it.
 *
 * zstd 1.5.3+ reads and writes on a second thread by default ("asyncio"); on a host whose
 * cores are busy with PostgreSQL that thread costs more than it gains (measured here:
 * compressing a 16 MiB segment 52 → 41 ms of CPU, decompressing 35 → 22 ms). Each runner
 * asks its zstd once whether it knows `--no-asyncio` and then passes it.
 */

const RUNNER_SCRIPT = `zstd="$1"
aio=
"$zstd" --no-asyncio -V >/dev/null 2>&1 </dev/null && aio=--no-asyncio
while IFS= read -r mode && IFS= read -r out && IFS= read -r in && IFS= read -r err; do
  if [ "$mode" = d ]; then
    "$zstd" -d $aio -q -f -o "$out" -- "$in" 2>"$err" </dev/null
  else
    "$zstd" -1 $aio -q -f --single-thread -o "$out" -- "$in" 2>"$err" </dev/null
  fi
  echo "$?"
done`;

/** A shell's status when the command is not found (zstd missing). */
const NOT_FOUND = 127;

/** The zstd command is not installed (its runner's shell could not find it). */
export class ZstdMissingError extends Error {
  override readonly name = 'ZstdMissingError';
}

interface Runner {
  child: ChildProcess;
  /** Lines not yet consumed, and the waiter of the next one. */
  pending: string;
  waiter?: (line: string | undefined) => void;
}

/**
 * The zstd command as one process knows it (every host process runs the command through
 * runners, made once at start-up or per call): a pool of runners, at most one request each
 * at a time, and what the process learnt of the command.
 */
export class ZstdRunners {
  readonly #idle: Runner[] = [];
  #closed = false;
  #serial = 0;
  #missingSaid = false;

  /** `zstd`: the binary (default `zstd` on PATH). */
  constructor(private readonly zstd = 'zstd') {}

  /** A number for this process's next scratch file. */
  nextSerial(): number {
    return ++this.#serial;
  }

  /** True the first time it is asked: "zstd is missing" is said once. */
  firstMissing(): boolean {
    const first = !this.#missingSaid;
    this.#missingSaid = true;
    return first;
  }

  /**
   * zstd -1 of `input` into `output` (overwritten); zstd's stderr goes to `errPath` (default
   * `<output>.err.tmp`), removed afterwards. Throws ZstdMissingError when zstd is missing, StrongboxError
   * WAL_CODEC_FAILED when it fails, and when the runner itself died.
   */
  compress(input: string, output: string, errPath = `${output}.err.tmp`): Promise<void> {
    return this.#run('c', input, output, errPath);
  }

  /** zstd -d of `input` into `output` (overwritten); otherwise as {@link compress}. */
  decompress(input: string, output: string, errPath = `${output}.err.tmp`): Promise<void> {
    return this.#run('d', input, output, errPath);
  }

  async #run(mode: 'c' | 'd', input: string, output: string, errPath: string): Promise<void> {
    if (/[\n\r]/.test(input + output + errPath)) throw new StrongboxError('WAL_CODEC_FAILED', 'a path with a line break cannot be passed to the zstd runner', 'use a spool path without line breaks');
    const runner = this.#idle.pop() ?? this.#start();
    let healthy = false;
    const answers = runner.child.stdout as Socket;
    answers.ref(); // waiting for this answer keeps the process alive
    try {
      runner.child.stdin!.write(`${mode}\n${output}\n${input}\n${errPath}\n`);
      const line = await nextLine(runner);
      if (line === undefined) throw new StrongboxError('WAL_CODEC_FAILED', 'the zstd runner (sh) stopped', 'check that /bin/sh works for the postgres OS user; the push is retried');
      healthy = true;
      const status = Number(line);
      if (status === 0) return;
      const reason = await readReason(errPath);
      if (status === NOT_FOUND) throw new ZstdMissingError(`zstd not found: ${reason}`);
      throw new StrongboxError('WAL_CODEC_FAILED', `zstd ${mode === 'd' ? '-d' : '-1'} failed (exit ${line}): ${reason}`, mode === 'd' ? 'the stored copy or the download is damaged, or zstd is broken; retry, then check the archive' : 'check that the spool has room and that zstd works for the postgres OS user; the push is retried');
    } finally {
      answers.unref();
      await removeQuietly(errPath);
      if (healthy && !this.#closed) this.#idle.push(runner);
      else runner.child.kill();
    }
  }

  /** Ends every idle runner (busy ones end when their request is answered). */
  close(): void {
    this.#closed = true;
    for (const runner of this.#idle.splice(0)) runner.child.stdin?.end();
  }

  #start(): Runner {
    const child = process.getBuiltinModule('node:child_process').spawn('/bin/sh', ['-c', RUNNER_SCRIPT, 'strongbox-zstd-runner', this.zstd], { stdio: ['pipe', 'pipe', 'ignore'] });
    const runner: Runner = { child, pending: '' };
    child.on('error', () => deliver(runner, undefined));
    child.stdin!.on('error', () => undefined);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      runner.pending += text;
      const end = runner.pending.indexOf('\n');
      if (end < 0) return;
      const line = runner.pending.slice(0, end);
      runner.pending = runner.pending.slice(end + 1);
      deliver(runner, line);
    });
    child.on('close', () => deliver(runner, undefined));
    // The uploader must be able to exit while runners wait for work.
    child.unref();
    (child.stdin as Socket).unref();
    (child.stdout as Socket).unref();
    return runner;
  }
}

function nextLine(runner: Runner): Promise<string | undefined> {
  return new Promise((resolve) => (runner.waiter = resolve));
}

function deliver(runner: Runner, line: string | undefined): void {
  const waiter = runner.waiter;
  runner.waiter = undefined;
  waiter?.(line);
}

async function readReason(path: string): Promise<string> {
  const text = await process.getBuiltinModule('node:fs/promises').readFile(path, 'utf8').catch(() => '');
  return text.trim().replace(/\s+/g, ' ').slice(0, 200) || 'no message';
}

