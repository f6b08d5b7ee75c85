/**
 * Runs a pipeline of client tools (`pg_dump`, or `pg_dump | zstd`) and exposes its output
 * as a ToolStream: the output ends only once every process exited 0, and is destroyed with
 * an error otherwise, so a truncated dump can never pass for a complete one.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { DumpError, StrongboxError } from '../../errors';
import { pgEnv } from '../../domain/connection';
import { mapToolFailure } from './errors';
import type { PgConnection, ToolStream } from '../../ports/postgres';

/** One process of a pipeline; each reads the previous one's stdout. */
export interface PipelineStep {
  command: string;
  args: string[];
}

const STDERR_LINES = 20;
const STDERR_KEEP_CHARS = 16 * 1024;
/** Bounded buffer between the last process and the consumer; beyond it the process waits. */
const OUTPUT_HIGH_WATER_MARK = 1024 * 1024;
/** How long a tool may take to die after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 5_000;

/** Variables that would point libpq elsewhere than the PgConnection; the child gets only ours. */
const CONNECTION_VARIABLES = [
  'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGPASSFILE', 'PGSERVICE', 'PGSERVICEFILE',
  'PGSSLMODE', 'PGOPTIONS', 'PGAPPNAME', 'PGCONNECT_TIMEOUT', 'PGTARGETSESSIONATTRS', 'PGREQUIRESSL',
];

/** This process's environment with the connection variables replaced by those of `conn`. */
export function toolEnv(conn: PgConnection, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CONNECTION_VARIABLES) delete env[name];
  return { ...env, ...pgEnv(conn), ...extra };
}

/** Options of runPipeline. */
export interface PipelineOptions {
  env: NodeJS.ProcessEnv;
  /** The connection the tools use, named (without password) in error messages. */
  conn?: PgConnection;
  signal?: AbortSignal;
  /** Turns a failure into a more precise error (e.g. by probing the connection); must not throw. */
  refine?: (error: StrongboxError) => Promise<StrongboxError>;
  /**
   * The first step's stdin (default: closed). Its error fails the pipeline with that error
   * (a StrongboxError as it is, e.g. a checksum mismatch found at the stream's end), killing
   * every tool before it could read an end of input.
   */
  stdin?: Readable;
}

/**
 * Starts `steps` piped into one another. The first step's stdin is closed; the last one's
 * stdout is the ToolStream's stdout, read with backpressure (a slow consumer pauses the tools).
 * Failure (spawn error, non-zero exit, death by signal, kill(), abort, or the consumer
 * destroying stdout early) kills every process still running, destroys stdout with the error
 * and rejects `done`; the error comes from mapToolFailure (DB_* codes, InputError or DumpError).
 */
export function runPipeline(steps: PipelineStep[], options: PipelineOptions): ToolStream {
  const out = new PassThrough({ highWaterMark: OUTPUT_HIGH_WATER_MARK });
  let settled = false;
  let resolveDone: () => void = () => undefined;
  let rejectDone: (error: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // Callers may rely on stdout's error alone; the rejection must not also crash the process.
  done.catch(() => undefined);

  const children: ChildProcess[] = [];
  const exits: Array<Promise<unknown>> = [];
  const killAll = (signal: NodeJS.Signals): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const fail = (error: StrongboxError): void => {
    if (settled) return;
    settled = true;
    killAll('SIGTERM');
    // Output already read from the tools is worthless now: drop it instead of holding it.
    for (const child of children) child.stdout?.destroy();
    // Report only once no process is left, so the caller never races a dying pg_dump.
    const escalate = setTimeout(() => killAll('SIGKILL'), KILL_GRACE_MS);
    void Promise.all(exits)
      .then(() => (options.refine ? options.refine(error).catch(() => error) : error))
      .then((final) => {
        clearTimeout(escalate);
        out.destroy(final);
        rejectDone(final);
      });
  };
  let pending = steps.length + 1; // every exit, plus the end of the last stdout
  const progress = (): void => {
    if (settled || --pending > 0) return;
    settled = true;
    out.end();
    resolveDone();
  };

  for (const [index, step] of steps.entries()) {
    // A later step reads the previous one's pipe itself: the bytes between two tools (an
    // uncompressed dump on its way to zstd) never pass through this process.
    const upstream = children[index - 1]?.stdout ?? (options.stdin ? 'pipe' : 'ignore');
    const child = spawn(step.command, step.args, { env: options.env, stdio: [upstream, 'pipe', 'pipe'] });
    if (index === 0 && options.stdin) feed(options.stdin, child, fail);
    // Our copy of that pipe's read end is closed, so a reader that dies gives its writer EPIPE.
    if (typeof upstream !== 'string') upstream.destroy();
    children.push(child);
    exits.push(new Promise((resolve) => {
      child.once('exit', resolve);
      child.once('error', resolve);
    }));
    const stderr = tailCollector();
    child.stderr?.on('data', stderr.push);
    const stderrDone = new Promise((resolve) => child.stderr?.once('close', resolve));
    child.on('error', (error) => {
      fail(new DumpError(`cannot run ${step.command}: ${error.message}`, `install the PostgreSQL 15 client tools and zstd (apt-get install postgresql-client-15 zstd) and check PATH`, { cause: error }));
    });
    // 'exit', not 'close': 'close' waits for stdout to be drained, which a paused consumer never does.
    child.on('exit', (code, signal) => {
      if (code === 0) return progress();
      void stderrDone.then(() => {
        fail(mapToolFailure(step.command, signal ? `was killed by ${signal}` : `exited with code ${code}`, stderr.tail(), options.conn));
      });
    });
  }
  const last = children[children.length - 1];
  last?.stdout?.on('end', progress);
  last?.stdout?.pipe(out, { end: false });
  out.on('close', () => {
    if (!settled) fail(new DumpError(`${steps[0]?.command} was stopped: its output was closed before the end`, 'the consumer of the dump stopped reading; see its error'));
  });

  // Fail at once rather than on the exit statuses: the tools may have exited 0 already, with
  // output still buffered here, and a stopped dump must not end as if it were complete.
  const stop = (how: string, signal: NodeJS.Signals, cause?: unknown): void => {
    if (settled) return;
    killAll(signal);
    fail(new DumpError(`${steps[0]?.command} ${how}`, 'nothing partial should be kept; run the backup again', { cause }));
  };
  const kill = (signal: NodeJS.Signals = 'SIGTERM'): void => stop(`was killed (${signal})`, signal);
  const onAbort = (): void => stop('was aborted', 'SIGTERM', options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  done.finally(() => options.signal?.removeEventListener('abort', onAbort)).catch(() => undefined);

  return { stdout: out, done, kill };
}

/**
 * Pipes `input` into the first tool's stdin. An error of `input` fails the pipeline (and so
 * kills the tool before it sees an end of input); the tool closing its stdin early is not an
 * error here: its exit status says whether it failed.
 */
function feed(input: Readable, child: ChildProcess, fail: (error: StrongboxError) => void): void {
  const stdin = child.stdin;
  if (!stdin) return;
  stdin.on('error', () => input.unpipe(stdin));
  input.on('error', (error: unknown) => {
    input.unpipe(stdin);
    fail(error instanceof StrongboxError ? error : new DumpError(`the input of ${child.spawnfile} failed: ${error instanceof Error ? error.message : String(error)}`, 'see the cause; nothing partial is kept', { cause: error }));
  });
  input.pipe(stdin);
}

/** Keeps the last lines of a stderr stream, bounded whatever the tool prints. */
function tailCollector(): { push: (chunk: Buffer) => void; tail: () => string } {
  let text = '';
  return {
    push: (chunk: Buffer) => {
      text = (text + chunk.toString('utf8')).slice(-STDERR_KEEP_CHARS);
    },
    tail: () => text.trimEnd().split('\n').slice(-STDERR_LINES).join('\n'),
  };
}
