/**
 * PostgreSQL's client tools as streams: pg_dump (gzip by pg_dump, or piped into zstd),
 * pg_dumpall for the globals, psql for CSV exports. The connection travels only in the
 * child's environment (pgEnv), never in argv, where any local user could read it.
 */
import { execFile } from 'node:child_process';
import { Transform } from 'node:stream';
import type { TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type pg from 'pg';
import { DumpError, InputError, StrongboxError } from '../../errors';
import { nearMatches } from '../../domain/restore-table-match';
import { quoteTable } from '../../domain/table-pattern';
import { connectClient } from './client';
import { mapPgError, NoMatchingTableError } from './errors';
import { DEFAULT_LOCK_WAIT_SECONDS } from './snapshot';
import { matchTables } from './tables';
import { runPipeline, toolEnv } from './tool-stream';
import type { PgConnection, ToolStream } from '../../ports/postgres';

const execFileAsync = promisify(execFile);

/** Options of spawnPgDump. */
export interface PgDumpOptions {
  /** An exported snapshot (SnapshotSession.snapshotId) to dump from. */
  snapshotId?: string;
  /** pg_dump `-t` patterns, with `--strict-names`; pass exactTablePattern() of resolved tables to include partitions. */
  tablePatterns?: string[];
  compression: 'gzip' | 'zstd';
  signal?: AbortSignal;
  /** pg_dump's --lock-wait-timeout (default DEFAULT_LOCK_WAIT_SECONDS). */
  lockWaitSeconds?: number;
  /** `--section=`: one part of a parallel (streams) backup; `schema` is `--schema-only` (pre- and post-data with their dependencies). */
  section?: 'pre-data' | 'data' | 'post-data' | 'schema';
  /** `--exclude-table-data=` patterns (the rest part of a parallel backup). */
  excludeTableData?: string[];
}

/**
 * Streams `pg_dump -Fc --no-owner --no-acl` of `conn` (custom format, gzip inside), or for
 * 'zstd' `pg_dump -Fc -Z0 | zstd -1 -T2 -q -c`, both exit statuses checked.
 * Errors arrive on the ToolStream (see runPipeline): DB_* codes when the connection fails,
 * InputError when a pattern matches nothing, DumpError otherwise.
 */
export function spawnPgDump(conn: PgConnection, options: PgDumpOptions): ToolStream {
  const args = ['--format=custom', '--no-owner', '--no-acl', '--no-password', `--lock-wait-timeout=${Math.max(1, Math.round(options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS))}s`];
  if (options.compression === 'zstd') args.push('--compress=0');
  if (options.snapshotId) args.push(`--snapshot=${options.snapshotId}`);
  if (options.section) args.push(options.section === 'schema' ? '--schema-only' : `--section=${options.section}`);
  for (const pattern of options.excludeTableData ?? []) args.push(`--exclude-table-data=${pattern}`);
  if (options.tablePatterns && options.tablePatterns.length > 0) {
    args.push('--strict-names');
    for (const pattern of options.tablePatterns) args.push('--table', pattern);
  }
  const steps = [{ command: 'pg_dump', args }];
  if (options.compression === 'zstd') steps.push({ command: 'zstd', args: ['-1', '-T2', '-q', '-c'] });
  return runPipeline(steps, { env: toolEnv(conn), conn, signal: options.signal });
}

/**
 * Streams `pg_dumpall --globals-only` (roles, tablespaces) as SQL, connecting to
 * `conn.database`. Without `includeRolePasswords` it adds `--no-role-passwords`, which is
 * also what works without superuser rights (managed databases).
 */
export function spawnPgDumpall(conn: PgConnection, options: { includeRolePasswords: boolean; signal?: AbortSignal }): ToolStream {
  const args = ['--globals-only', '--no-password', `--database=${conn.database}`];
  if (!options.includeRolePasswords) args.push('--no-role-passwords');
  return runPipeline([{ command: 'pg_dumpall', args }], { env: toolEnv(conn), conn, signal: options.signal, refine: (error) => explainConnectFailure(error, conn) });
}

/**
 * pg_dumpall reports a failed connection to `--database` without libpq's reason; connecting
 * with the driver tells refused logins, missing databases and closed ports apart.
 */
async function explainConnectFailure(error: StrongboxError, conn: PgConnection): Promise<StrongboxError> {
  if (!(error instanceof DumpError) || !/could not connect to database/.test(error.message)) return error;
  try {
    const client = await connectClient(conn);
    await client.end().catch(() => undefined);
    return error;
  } catch (reason) {
    return reason instanceof StrongboxError ? reason : error;
  }
}

/**
 * The version of an installed client tool, e.g. '15.18'.
 *
 * @throws DumpError when the tool cannot be run or prints no version.
 */
export async function toolVersion(tool: 'pg_dump' | 'pg_restore' | 'pg_dumpall'): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(tool, ['--version']));
  } catch (error) {
    throw new DumpError(`cannot run ${tool} --version`, 'install the PostgreSQL 15 client tools (apt-get install postgresql-client-15) and check PATH', { cause: error });
  }
  const version = /\(PostgreSQL\)\s+(\S+)/.exec(stdout)?.[1];
  if (!version) throw new DumpError(`${tool} --version printed no version: ${stdout.trim()}`, 'check that PATH finds the PostgreSQL client tools');
  return version;
}

/**
 * Writes one table of `conn` as CSV with a header row into `out` (which it ends), through
 * `psql -c "COPY (SELECT …) TO STDOUT"`. `table` is a pattern that must match exactly one
 * table; a partitioned table is exported with all its partitions' rows.
 *
 * @returns the number of data rows written (the header not counted).
 * @throws InputError when the pattern matches no table or several; DatabaseConnectionError
 *   when the connection fails; DumpError when psql or `out` fails.
 */
export async function exportCsv(conn: PgConnection, table: string, out: Writable): Promise<{ rows: number }> {
  const client = await connectClient(conn);
  let matched;
  try {
    matched = await matchTables(client, conn.database, [table]);
  } catch (error) {
    if (error instanceof NoMatchingTableError) throw await noTableToExport(client, conn, table);
    throw mapPgError(error, conn, 'look up the table on');
  } finally {
    await client.end().catch(() => undefined);
  }
  const [only, ...others] = matched;
  if (!only || others.length > 0) {
    throw new InputError(`the table pattern ${table} matches ${matched.length} tables (${matched.map(quoteTable).join(', ')})`, 'name exactly one table, schema-qualified and quoted if needed');
  }
  // ONLY keeps inheritance children out, as pg_dump does; a partitioned table holds no rows of its own.
  const source = only.kind === 'r' ? `ONLY ${quoteTable(only)}` : quoteTable(only);
  const sql = `COPY (SELECT * FROM ${source}) TO STDOUT WITH (FORMAT csv, HEADER)`;
  const tool = runPipeline([{ command: 'psql', args: ['-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '-c', sql] }], {
    env: toolEnv(conn, { PGCLIENTENCODING: 'UTF8' }),
    conn,
  });
  const counter = new CsvRecordCounter();
  try {
    await pipeline(tool.stdout, counter, out);
    await tool.done;
  } catch (error) {
    tool.kill();
    if (error instanceof StrongboxError) throw error;
    throw new DumpError(`cannot write the CSV export of ${quoteTable(only)}: ${error instanceof Error ? error.message : String(error)}`, 'check the destination of the export (disk space, permissions)', { cause: error });
  }
  return { rows: Math.max(0, counter.records - 1) };
}

/** The error for an export pattern that matches no table: the tables of the database with a close name, and how to name one. */
async function noTableToExport(client: pg.Client, conn: PgConnection, table: string): Promise<InputError> {
  const near = nearMatches(await matchTables(client, conn.database, []).catch(() => []), table);
  return new InputError(
    `no table of database "${conn.database}" matches ${JSON.stringify(table)}${near.length ? `; near matches: ${near.map(quoteTable).join(', ')}` : ''}`,
    'export-csv takes one table, named as pg_dump patterns name it: [schema.]table, double quotes keep case ' +
      '(e.g. --table \'"Sales".orders\'); `\\dt *.*` in psql lists the tables',
  );
}

/** Counts CSV records (line ends outside double quotes) of the bytes passing through. */
class CsvRecordCounter extends Transform {
  records = 0;
  private inQuotes = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const byte of chunk) {
      // A doubled quote inside a field toggles twice, which leaves the state unchanged.
      if (byte === 0x22) this.inQuotes = !this.inQuotes;
      else if (byte === 0x0a && !this.inQuotes) this.records++;
    }
    callback(null, chunk);
  }
}
