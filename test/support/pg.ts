/**
 * A throwaway PostgreSQL cluster for tests: fast test mode (no fsync), a fresh temporary
 * folder, a free port on 127.0.0.1, everything removed by stop().
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../shared/adapters/postgres/cluster';
import type { PgConnection } from '../../shared/ports/postgres';

/** A running test cluster; `conn` reaches its `postgres` database as the superuser. */
export interface TestCluster {
  cluster: LocalCluster;
  conn: PgConnection;
  /** Stops the server and deletes its files. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster (~2 s). With `password`, TCP logins need it (scram-sha-256); without,
 * they are trusted. Extra postgresql.conf `settings` are applied before the first start.
 */
export async function startTestCluster(options: { password?: string; settings?: Record<string, string>; binDir?: string } = {}): Promise<TestCluster> {
  const base = await mkdtemp(join(tmpdir(), 'sbx-pg-'));
  // The server runs as the postgres user when tests run as root: it must traverse the folder.
  await chmod(base, 0o755);
  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.create({
      dataDir: join(base, 'data'),
      fastTestMode: true,
      superuserPassword: options.password,
      settings: options.settings,
      // Another major's server (test/support/pg-versions.ts); default: this machine's newest.
      ...(options.binDir ? { binDir: options.binDir } : {}),
    });
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    cluster,
    conn: cluster.connection(),
    stop: () => (stopped ??= cluster.destroy().finally(() => rm(base, { recursive: true, force: true }))),
  };
}

/** Reads a whole stream into memory (test dumps are small). */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Runs a command with `input` on stdin and resolves with its stdout; rejects with its stderr
 * when it exits non-zero. For piping dumps through pg_restore or zstd in assertions.
 */
export function runWithInput(command: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${command} exited ${code}: ${err}`))));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** The `TABLE DATA` entries of a custom-format dump, as `schema.name` (via `pg_restore --list`). */
export async function dumpedTableData(dump: Buffer): Promise<string[]> {
  const list = (await runWithInput('pg_restore', ['--list'], dump)).toString();
  return [...list.matchAll(/ TABLE DATA (\S+) (\S+) /g)].map((m) => `${m[1]}.${m[2]}`).sort();
}

/**
 * The data rows of each table in a custom-format dump (from `pg_restore --data-only -f -`),
 * keyed by the COPY target as pg_restore writes it (e.g. `public.customers`, `"Sales".orders`).
 */
export async function dumpedRowCounts(dump: Buffer): Promise<Record<string, number>> {
  const sql = (await runWithInput('pg_restore', ['--data-only', '-f', '-'], dump)).toString();
  const counts: Record<string, number> = {};
  for (const block of sql.matchAll(/^COPY (\S+) \([^)]*\) FROM stdin;\n([\s\S]*?)^\\\.$/gm)) {
    counts[block[1] as string] = (block[2] as string).split('\n').filter((line) => line !== '').length;
  }
  return counts;
}
