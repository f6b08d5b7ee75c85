/**
 * The chaos run's load on the source cluster: pgbench at a fixed rate (small
 * transactions) and one session of bulk INSERTs of random text with random pauses (whole
 * segments of WAL), plus the fingerprint that a point-in-time recovery must reproduce.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { connectClient } from '../../shared/adapters/postgres/client';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import type { PgConnection } from '../../shared/ports/postgres';
import { LOAD_TABLE_SQL } from '../wal/source';

/** One INSERT of about 6 MB of WAL: random md5 text, as incompressible as bench:wal's. */
const BULK_SQL = "INSERT INTO load (body) SELECT md5(random()::text) || ' ' || md5(random()::text) FROM generate_series(1, 25000)";

/** Tables, row counts and sums: equal on the source and on its recovery, or something was lost. */
export const FINGERPRINT_SQL = `SELECT (SELECT count(*) FROM load) || '/' || (SELECT coalesce(sum(hashtext(body)::bigint), 0) FROM load) || '/' || (SELECT coalesce(max(id), 0) FROM load)
  || '/' || (SELECT sum(abalance) FROM pgbench_accounts) || '/' || (SELECT count(*) FROM pgbench_history) || '/' || (SELECT string_agg(note, ',' ORDER BY id) FROM chaos_marker) AS fingerprint`;

/** Creates the tables (pgbench's at scale `scale`, the load table, the marker table). */
export async function prepareLoad(connection: PgConnection, scale: number): Promise<void> {
  await runTool('pgbench', ['-i', '-q', '-s', String(scale)], connection);
  const client = await connectClient(connection);
  try {
    await client.query(`${LOAD_TABLE_SQL}; CREATE TABLE IF NOT EXISTS chaos_marker (id serial PRIMARY KEY, note text NOT NULL)`);
  } finally {
    await client.end();
  }
}

/** The running load; stop() ends it and says how much it did. */
export interface Load {
  stop(): Promise<{ bulkInserts: number; pgbenchOk: boolean }>;
}

/**
 * Starts pgbench (`-R rate` transactions a second, 2 clients) and the bulk INSERT
 * session (an INSERT, then a pause of 0 to `maxPauseMs`, drawn from `random`).
 */
export function startLoad(connection: PgConnection, options: { rate: number; maxPauseMs: number; random: () => number }): Load {
  const pgbench: ChildProcess = spawn('pgbench', ['-n', '-c', '2', '-j', '1', '-R', String(options.rate), '-T', '86400'], { env: toolEnv(connection), stdio: ['ignore', 'ignore', 'ignore'] });
  const pgbenchExit = new Promise<number | null>((done) => pgbench.once('exit', (code, signal) => done(signal === 'SIGTERM' ? 0 : code)));
  let running = true;
  let bulkInserts = 0;
  const bulk = (async () => {
    const client: pg.Client = await connectClient(connection);
    try {
      while (running) {
        await client.query(BULK_SQL);
        bulkInserts++;
        await sleep(Math.floor(options.random() * options.maxPauseMs));
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return {
    async stop() {
      running = false;
      if (pgbench.exitCode === null) pgbench.kill('SIGTERM');
      const [code] = await Promise.all([pgbenchExit, bulk]);
      return { bulkInserts, pgbenchOk: code === 0 };
    },
  };
}

/** The source's (or a recovery's) fingerprint. */
export async function fingerprint(connection: PgConnection): Promise<string> {
  const client = await connectClient(connection);
  try {
    return String((await client.query<{ fingerprint: string }>(FINGERPRINT_SQL)).rows[0]?.fingerprint);
  } finally {
    await client.end();
  }
}

/** Runs one query on a connection of its own. */
export async function query<T extends pg.QueryResultRow>(connection: PgConnection, sql: string): Promise<T[]> {
  const client = await connectClient(connection);
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function runTool(command: string, args: string[], connection: PgConnection): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env: toolEnv(connection), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
    child.once('error', fail);
    child.once('close', (code) => (code === 0 ? done() : fail(new Error(`${command} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`))));
  });
}
