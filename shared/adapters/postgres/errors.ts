/**
 * Turns node-postgres errors and libpq tools' stderr into Strongbox errors, so that a refused
 * connection reads the same whether the driver or pg_dump met it.
 */
import { DatabaseConnectionError, DumpError, InputError, StrongboxError } from '../../errors';
import { redactConnection } from '../../domain/connection';
import type { PgConnection } from '../../ports/postgres';

const UNREACHABLE_HINT = 'check the host and port, and that the server is running and listening on that address (listen_addresses, firewall)';
const AUTH_HINT =
  'check the user and password: give DATABASE_URL without a password plus PGPASSFILE or the secret reference, ' +
  'and check that pg_hba.conf lets this user in from this host';
const NOT_FOUND_HINT = 'check the database name in DATABASE_URL or the config file; `psql -l` lists the databases';
const PATTERN_HINT = '`strongbox backup --table` uses pg_dump\'s pattern rules; list the tables with \\dt in psql';

const UNREACHABLE_ERRNOS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET']);
const AUTH_SQLSTATES = new Set(['28P01', '28000']);

/**
 * Maps an error thrown by node-postgres for `conn` to a Strongbox error: network failures →
 * DB_UNREACHABLE, SQLSTATE 28P01/28000 → DB_AUTH_FAILED, 3D000 → DB_NOT_FOUND. Anything
 * else becomes a DumpError carrying the driver's message. StrongboxErrors pass through.
 * The message names the connection without its password; the driver error is the `cause`.
 */
export function mapPgError(error: unknown, conn: PgConnection, doing = 'connect to'): StrongboxError {
  if (error instanceof StrongboxError) return error;
  const target = redactConnection(conn);
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if ((code !== undefined && UNREACHABLE_ERRNOS.has(code)) || /connection timeout|terminated unexpectedly/i.test(detail)) {
    return new DatabaseConnectionError('DB_UNREACHABLE', `cannot reach PostgreSQL at ${target} (${code ?? detail})`, UNREACHABLE_HINT, { cause: error });
  }
  if ((code !== undefined && AUTH_SQLSTATES.has(code)) || /SASL|client password must be/i.test(detail)) {
    return new DatabaseConnectionError('DB_AUTH_FAILED', `PostgreSQL refused the login of ${target}: ${detail}`, AUTH_HINT, { cause: error });
  }
  if (code === '3D000') {
    return new DatabaseConnectionError('DB_NOT_FOUND', `database "${conn.database}" does not exist on ${target}`, NOT_FOUND_HINT, { cause: error });
  }
  return new DumpError(`could not ${doing} ${target}: ${detail}`, 'the PostgreSQL error above says what failed; the logs have details', { cause: error });
}

/**
 * Maps the stderr of a failed libpq tool (pg_dump, pg_dumpall, psql) to a Strongbox error:
 * the DB_* codes when the text shows a connection, login or missing-database failure, an
 * InputError when `--strict-names` found no table, a DumpError with the stderr tail otherwise.
 *
 * @param failure what happened to the process, e.g. `exited with code 1` or `was killed by SIGTERM`.
 */
export function mapToolFailure(tool: string, failure: string, stderrTail: string, conn?: PgConnection): StrongboxError {
  const target = conn ? ` (${redactConnection(conn)})` : '';
  const tail = stderrTail.trim();
  const message = `${tool} ${failure}${target}${tail ? `: ${tail}` : ''}`;
  if (/password authentication failed|no pg_hba\.conf entry|no password supplied|peer authentication failed|role ".*" does not exist|SCRAM authentication/i.test(tail)) {
    return new DatabaseConnectionError('DB_AUTH_FAILED', message, AUTH_HINT);
  }
  if (/database ".*" does not exist/i.test(tail)) {
    return new DatabaseConnectionError('DB_NOT_FOUND', message, NOT_FOUND_HINT);
  }
  if (/connection refused|could not translate host name|timeout expired|no route to host|network is unreachable|is the server running|could not connect to server/i.test(tail)) {
    return new DatabaseConnectionError('DB_UNREACHABLE', message, UNREACHABLE_HINT);
  }
  if (/no matching (tables|schemas) were found/i.test(tail)) {
    return new InputError(message, PATTERN_HINT);
  }
  if (/could not obtain lock on relation/i.test(tail)) {
    return new StrongboxError('DUMP_LOCK_TIMEOUT', message, 'another session (a migration\'s ALTER TABLE, a LOCK) held a table past the backup\'s lock wait; nothing partial was kept: run the backup again once it is done');
  }
  return new DumpError(message, `see ${tool}'s messages above; run it by hand with the same options to investigate`);
}

/** `--table` patterns that matched no table (INPUT_INVALID): a caller may say more, e.g. the near matches. */
export class NoMatchingTableError extends InputError {
  constructor(readonly patterns: string[]) {
    super(`no table matches ${patterns.map((p) => `"${p}"`).join(', ')}`, PATTERN_HINT);
  }
}

/** The InputError for `--table` patterns that matched no table. */
export function noMatchingTable(patterns: string[]): NoMatchingTableError {
  return new NoMatchingTableError(patterns);
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node's happy-eyeballs connect reports an AggregateError whose members carry the errno.
  const inner = (error as { errors?: unknown }).errors;
  if (Array.isArray(inner)) return inner.map(errorCode).find((c) => c !== undefined);
  return undefined;
}
