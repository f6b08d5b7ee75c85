import { statSync, readFileSync } from 'node:fs';
import { connectClient } from '../adapters/postgres/client';
import { openRestoreServer } from '../adapters/postgres/restore-server';
import type { PgConnection } from '../ports/postgres';
import { passwordFromPassfile, redactConnection } from '../domain/connection';
import { DatabaseConnectionError, StrongboxError } from '../errors';
import { demoPsqlCommand, readDemoServer } from '../local/demo-cluster';
import type { HomePaths } from '../local/home';

/** What the login must reach: the server (its maintenance database), or the named database itself. */
export type LoginScope = 'server' | 'database';

/**
 * Logs in to the server a `--target-url` / `--scratch-url` names, before the plan is confirmed
 * and before anything is changed, so that a missing password is found before the operator typed
 * the database's name, not after. `server` reaches the maintenance database (the target of a
 * full restore need not exist); `database` the named one.
 *
 * @throws DatabaseConnectionError: DB_AUTH_FAILED saying where the password was looked for and
 *   why it did not do (none given, a passfile others can read or without a matching line), with
 *   a hint naming PGPASSFILE and PGPASSWORD — and, when the URL points at this home's demo
 *   PostgreSQL, its passfile; DB_NOT_FOUND naming the flag; DB_UNREACHABLE as the driver found it.
 */
export async function checkLogin(flag: string, connection: PgConnection, scope: LoginScope, paths: HomePaths): Promise<void> {
  try {
    if (scope === 'server') await (await openRestoreServer(connection)).close();
    else await (await connectClient(connection)).end();
  } catch (error) {
    throw explainLoginFailure(flag, connection, error, paths, scope);
  }
}

/** The error of a failed login through `flag`, with where the password came from and what to do. */
export function explainLoginFailure(flag: string, connection: PgConnection, error: unknown, paths: HomePaths, scope: LoginScope = 'database'): unknown {
  if (!(error instanceof StrongboxError)) return error;
  const target = redactConnection(connection);
  if (error.code === 'DB_NOT_FOUND') {
    return new DatabaseConnectionError('DB_NOT_FOUND', `${flag} names database "${connection.database}", which does not exist on ${target}`, `check the name at the end of ${flag}; \`psql -l\` lists the databases of that server`, { cause: error });
  }
  if (error.code !== 'DB_AUTH_FAILED') return error;
  const demo = readDemoServer(paths);
  const isDemo = demo !== undefined && demo.port === connection.port && ['127.0.0.1', 'localhost'].includes(connection.host);
  const demoHint = isDemo
    ? `; this is the demo PostgreSQL of ${paths.root}: its password is in ${demo.passfile} — add PGPASSFILE=${demo.passfile} before the command (psql: ${demoPsqlCommand({ ...connection, user: demo.user, passfile: demo.passfile })})`
    : '';
  return new DatabaseConnectionError(
    'DB_AUTH_FAILED',
    `PostgreSQL refused the login of ${target} (${flag}): ${passwordSource(connection, scope)}`,
    `${flag} takes no password: put it in a passfile (a line host:port:database:user:password, mode 0600) and name it with PGPASSFILE=FILE, or set PGPASSWORD ` +
      `(DATABASE_URL names the database to back up, not this one); check also that pg_hba.conf lets ${connection.user} in from this host${demoHint}`,
    { cause: error },
  );
}

/** Where the refused password came from, or why there was none — never the password. */
function passwordSource(connection: PgConnection, scope: LoginScope): string {
  if (connection.password !== undefined) return 'the password from PGPASSWORD was refused';
  const file = connection.passfile;
  if (file === undefined) return 'no password was given (none in PGPASSWORD, PGPASSFILE or ~/.pgpass)';
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch {
    return `the passfile ${file} cannot be read`;
  }
  if ((mode & 0o077) !== 0) return `the passfile ${file} is ignored because others can read it (chmod 600 ${file}), so no password was given`;
  // A full restore logs in to the maintenance database first (openRestoreServer).
  const database = scope === 'server' ? (connection.database === 'postgres' ? 'template1' : 'postgres') : connection.database;
  if (passwordFromPassfile(text, { ...connection, database }) === undefined) {
    return `the passfile ${file} has no line for ${connection.host}:${connection.port}:${database}:${connection.user} (* matches any)${database === connection.database ? '' : ', the maintenance database logged in to first'}, so no password was given`;
  }
  return `the password in the passfile ${file} was refused`;
}
