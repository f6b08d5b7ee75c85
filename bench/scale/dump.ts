/**
 * bench:scale, the logical dump of a big database (issue 15 point 6): plain `pg_dump -Fc`
 * against the two parallel modes, on the same database in the same run.
 *
 * - `plain`: one `pg_dump -Fc` (today's backup), one process, one stream.
 * - `directory`: `pg_dump -Fd -j N` — parallel, but it writes a directory: the task's disk
 *   must hold the whole compressed dump (Fargate: 200 GiB at most).
 * - `streams`: one exported snapshot; pre-data, N `pg_dump -Fc --section=data -t <group>`
 *   streams (tables balanced by size) and post-data, all concurrent, each its own custom-format
 *   archive — each could be its own S3 object, so no disk is needed. Restored as pre-data, the
 *   data parts (N pg_restore at once), post-data (-j N); the row counts are compared with
 *   the source to prove the parts are one consistent, complete dump.
 *
 * Every variant writes its output to files under `workDir` (the same cost for each), which
 * are removed afterwards.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { connectClient } from '../../shared/adapters/postgres/client';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import type { PgConnection } from '../../shared/ports/postgres';
import { markdownTable, mb, seconds } from '../measure';

/** One measured variant. */
export interface DumpVariant {
  name: 'plain' | 'directory' | 'streams';
  ms: number;
  bytes: number;
  /** How many objects a backup would store. */
  objects: number;
  /** Local disk the variant needs: the whole dump for `directory`, none for the others (streamed). */
  localDisk: string;
}

/** What parallelDumpReport measured. */
export interface ParallelDumpResult {
  variants: DumpVariant[];
  /** Restore of the `streams` parts: ms, and whether every table's rows equal the source's. */
  streamsRestore: { ms: number; countsMatch: boolean };
  table: string;
  lines: string[];
}

/** Runs a tool with the connection in its environment, its stdout into `out` (a file) or discarded. */
async function run(conn: PgConnection, command: string, args: string[], out?: string): Promise<void> {
  const child = spawn(command, args, { env: toolEnv(conn), stdio: ['ignore', out ? 'pipe' : 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  if (out && child.stdout) await pipeline(child.stdout, createWriteStream(out));
  const code = await exited;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}

/** Tables by size, spread over `n` groups (largest first into the lightest group). */
export function balance(tables: ReadonlyArray<{ name: string; bytes: number }>, n: number): string[][] {
  const groups = Array.from({ length: n }, () => ({ bytes: 0, names: [] as string[] }));
  for (const table of [...tables].sort((a, b) => b.bytes - a.bytes)) {
    const lightest = groups.reduce((min, group) => (group.bytes < min.bytes ? group : min));
    lightest.bytes += table.bytes;
    lightest.names.push(table.name);
  }
  return groups.filter((group) => group.names.length > 0).map((group) => group.names);
}

async function userTables(conn: PgConnection): Promise<Array<{ name: string; bytes: number }>> {
  const client = await connectClient(conn);
  try {
    const result = await client.query<{ name: string; bytes: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, pg_total_relation_size(c.oid)::text AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`,
    );
    return result.rows.map((row) => ({ name: row.name, bytes: Number(row.bytes) }));
  } finally {
    await client.end();
  }
}

async function rowCounts(conn: PgConnection, tables: string[]): Promise<Record<string, number>> {
  const client = await connectClient(conn);
  try {
    const counts: Record<string, number> = {};
    for (const table of tables) counts[table] = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${table}`)).rows[0]!.n);
    return counts;
  } finally {
    await client.end();
  }
}

const DUMP_FLAGS = ['--no-owner', '--no-acl', '--no-password'];

/** The parallel-streams dump: pre-data, N data parts and post-data from one exported snapshot, concurrently. */
async function dumpStreams(conn: PgConnection, groups: string[][], dir: string): Promise<string[]> {
  const holder = await connectClient(conn);
  try {
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await holder.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    const common = ['-Fc', ...DUMP_FLAGS, `--snapshot=${snapshot}`, `--dbname=${conn.database}`];
    const parts = [
      { file: join(dir, 'pre-data'), args: ['--section=pre-data'] },
      ...groups.map((group, index) => ({ file: join(dir, `data-${index + 1}`), args: ['--section=data', ...group.flatMap((table) => ['-t', table])] })),
      { file: join(dir, 'post-data'), args: ['--section=post-data'] },
    ];
    await Promise.all(parts.map((part) => run(conn, 'pg_dump', [...common, ...part.args], part.file)));
    return parts.map((part) => part.file);
  } finally {
    await holder.query('COMMIT').catch(() => undefined);
    await holder.end();
  }
}

/** Restores the streams' parts into a new database: pre-data, the data parts at once, post-data with -j. */
async function restoreStreams(conn: PgConnection, files: string[], jobs: number): Promise<void> {
  const restore = (file: string, extra: string[] = []) => run(conn, 'pg_restore', [...DUMP_FLAGS, '--exit-on-error', ...extra, `--dbname=${conn.database}`, file]);
  const [pre, ...rest] = files;
  const post = rest.pop()!;
  await restore(pre!);
  await Promise.all(rest.map((file) => restore(file)));
  await restore(post, [`--jobs=${jobs}`]);
}

async function timed<T>(body: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await body();
  return { ms: performance.now() - started, value };
}

/**
 * Measures plain `pg_dump -Fc`, `pg_dump -Fd -j jobs` and the parallel streams on `conn`'s
 * database, in that order, then restores the streams' parts into `<database>_streams_check`
 * (dropped afterwards) and compares every table's row count with the source.
 *
 * @throws Error when a tool fails.
 */
export async function parallelDumpReport(conn: PgConnection, options: { jobs: number; workDir: string; progress: (line: string) => void }): Promise<ParallelDumpResult> {
  const dir = join(options.workDir, 'parallel-dump');
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'streams'), { recursive: true });
  const tables = await userTables(conn);
  const groups = balance(tables, options.jobs);
  const variants: DumpVariant[] = [];
  try {
    const plainFile = join(dir, 'plain.dump');
    const plain = await timed(() => run(conn, 'pg_dump', ['-Fc', ...DUMP_FLAGS, `--dbname=${conn.database}`], plainFile));
    variants.push({ name: 'plain', ms: plain.ms, bytes: await sizeOf(plainFile), objects: 1, localDisk: 'none (streamed)' });
    options.progress(`dump: plain pg_dump -Fc ${seconds(plain.ms)} s`);
    await rm(plainFile, { force: true });

    const directory = join(dir, 'directory');
    const parallel = await timed(() => run(conn, 'pg_dump', ['-Fd', `--jobs=${options.jobs}`, ...DUMP_FLAGS, '-f', directory, `--dbname=${conn.database}`]));
    variants.push({ name: 'directory', ms: parallel.ms, bytes: await sizeOf(directory), objects: 1, localDisk: 'the whole dump' });
    options.progress(`dump: pg_dump -Fd -j ${options.jobs} ${seconds(parallel.ms)} s`);
    await rm(directory, { recursive: true, force: true });

    const streams = await timed(() => dumpStreams(conn, groups, join(dir, 'streams')));
    let bytes = 0;
    for (const file of streams.value) bytes += await sizeOf(file);
    variants.push({ name: 'streams', ms: streams.ms, bytes, objects: streams.value.length, localDisk: 'none (streamed)' });
    options.progress(`dump: ${groups.length} snapshot streams ${seconds(streams.ms)} s`);

    const check = `${conn.database}_streams_check`;
    const admin = await connectClient({ ...conn, database: 'postgres' });
    await admin.query(`DROP DATABASE IF EXISTS "${check}"`);
    await admin.query(`CREATE DATABASE "${check}"`);
    try {
      const restored = await timed(() => restoreStreams({ ...conn, database: check }, streams.value, options.jobs));
      const names = tables.map((t) => t.name);
      const [source, copy] = await Promise.all([rowCounts(conn, names), rowCounts({ ...conn, database: check }, names)]);
      const countsMatch = JSON.stringify(source) === JSON.stringify(copy);
      options.progress(`dump: the streams' parts restored in ${seconds(restored.ms)} s, row counts ${countsMatch ? 'equal' : 'DIFFER'}`);
      const table = markdownTable(
        ['variant', 'wall', 'vs plain', 'dump size', 'objects', 'local disk needed'],
        variants.map((v) => [v.name, `${seconds(v.ms)} s`, `${(variants[0]!.ms / v.ms).toFixed(2)} ×`, `${mb(v.bytes)} MB`, String(v.objects), v.localDisk]),
      );
      const lines = [`tables in ${groups.length} groups: ${groups.map((g) => g.length).join(' + ')}; the streams' parts restore (pre-data, data parts at once, post-data -j ${options.jobs}) in ${seconds(restored.ms)} s, every row count ${countsMatch ? 'equal to the source' : 'DIFFERENT from the source'}`];
      return { variants, streamsRestore: { ms: restored.ms, countsMatch }, table, lines };
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${check}"`).catch(() => undefined);
      await admin.end();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
