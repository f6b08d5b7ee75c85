/**
 * Applies a stored `pg_dumpall --globals-only` script (roles, role settings, tablespaces) to a
 * server with psql. The script is not one transaction (CREATE TABLESPACE cannot be in one), so
 * psql runs every statement and the errors it printed are returned for the caller to judge:
 * "already exists" is expected on a server that still has its roles.
 */
import { spawn } from 'node:child_process';
import { mapToolFailure } from './errors';
import { toolEnv } from './tool-stream';
import type { PgConnection } from '../../ports/postgres';

/** What psql reported while applying the script. */
export interface GlobalsOutcome {
  /** psql's ERROR lines, without its `psql:<file>:<line>:` prefix. */
  errors: string[];
}

const MAX_STDERR_CHARS = 64 * 1024;

/**
 * Runs `psql -X -q -v ON_ERROR_STOP=0 -f <file>` against the `postgres` database of
 * `conn`'s server (the connection, PGDATABASE included, in the child's environment, never in argv).
 *
 * @throws DatabaseConnectionError when psql cannot connect; DumpError when psql itself fails
 *   (exit status 1 or 2 with no statement errors to show), or when `signal` aborts it.
 */
export async function applyGlobalsScript(conn: PgConnection, file: string, signal?: AbortSignal): Promise<GlobalsOutcome> {
  const maintenance = { ...conn, database: 'postgres' };
  const args = ['-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=0', '-f', file];
  const child = spawn('psql', args, { env: toolEnv(maintenance), stdio: ['ignore', 'ignore', 'pipe'], ...(signal ? { signal } : {}) });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < MAX_STDERR_CHARS) stderr += chunk.toString('utf8');
  });
  const status = await new Promise<number | string>((resolve) => {
    child.once('error', (error) => resolve(error.message));
    child.once('close', (code, killedBy) => resolve(code ?? `killed by ${killedBy ?? 'a signal'}`));
  });
  const errors = stderr
    .split('\n')
    .map((line) => /ERROR:\s+(.*)$/.exec(line)?.[1]?.trim())
    .filter((line): line is string => Boolean(line));
  // psql exits 0 with ON_ERROR_STOP=0 even when statements failed; 1 or 2 mean psql itself failed.
  if (status !== 0) throw mapToolFailure('psql', typeof status === 'number' ? `exit status ${status}` : status, stderr, maintenance);
  return { errors };
}
