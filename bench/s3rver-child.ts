/**
 * s3rver in a child process of the benchmark. Apart, it neither shares the event loop
 * that Strongbox's upload runs on nor counts in its RSS (a real S3 is on other machines
 * too), and only the child needs OpenSSL's legacy provider (s3rver encrypts
 * ListObjectsV2 continuation tokens with DES).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { startS3Server } from '../test/support/s3-server';

/** The argument that turns the benchmark's program into the s3rver child. */
export const S3RVER_CHILD_FLAG = '--s3rver-child';

/** A running s3rver child. */
export interface S3rverChild {
  endpoint: string;
  bucket: string;
  pid: number;
  /** Asks the child to stop s3rver and remove its folder, and waits for it (SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

interface Ready {
  endpoint: string;
  bucket: string;
}

/**
 * Starts this same program (`process.argv[1]`) as an s3rver child and waits until it
 * listens. The child lives until its stdin closes, so it also ends when this process dies.
 *
 * @throws Error when the child exits or stays silent for 30 s before it is ready.
 */
export async function startS3rverChild(): Promise<S3rverChild> {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell which program to start as the s3rver child');
  const child = spawn(process.execPath, ['--enable-source-maps', '--openssl-legacy-provider', script, S3RVER_CHILD_FLAG], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    })());
  try {
    const ready = await readReady(child.stdout, exited);
    return { ...ready, pid: child.pid ?? -1, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function readReady(stdout: NodeJS.ReadableStream | null, exited: Promise<unknown>): Promise<Ready> {
  if (!stdout) throw new Error('the s3rver child has no stdout');
  const lines = createInterface({ input: stdout });
  let timer: NodeJS.Timeout | undefined;
  try {
    const line = await Promise.race([
      once(lines, 'line').then(([text]) => String(text)),
      exited.then(() => Promise.reject(new Error('the s3rver child exited before it was ready'))),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the s3rver child was not ready within 30 s')), 30_000))),
    ]);
    return JSON.parse(line) as Ready;
  } finally {
    clearTimeout(timer);
    lines.close();
  }
}

/**
 * The child's side: starts s3rver (bucket `strongbox-bench`), prints where it listens as
 * one JSON line, and stops it (removing its folder) when stdin closes or on SIGTERM.
 * SIGINT is ignored: on Ctrl-C the parent decides when its uploads are over.
 */
export async function serveS3rverChild(): Promise<void> {
  const server = await startS3Server('strongbox-bench');
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void server.stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', () => undefined);
  process.once('SIGTERM', stop);
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, bucket: server.bucket } satisfies Ready)}\n`);
}
