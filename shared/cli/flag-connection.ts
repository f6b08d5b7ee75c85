import type { PgConnection } from '../ports/postgres';
import { parseDatabaseUrl } from '../domain/connection';
import { InputError } from '../errors';
import { withEnvCredentials } from '../local/env-credentials';

/**
 * The connection a `--…-url` flag names. A password there is refused (every user can read
 * command lines); it comes from PGPASSWORD, PGPASSFILE or ~/.pgpass instead.
 */
export function connectionFromFlag(flag: string, url: string, env: NodeJS.ProcessEnv): PgConnection {
  const connection = parseDatabaseUrl(url);
  if (connection.password !== undefined) {
    throw new InputError(`${flag} must not contain a password (other users can read command lines)`, 'give the password in PGPASSWORD, or in PGPASSFILE / ~/.pgpass');
  }
  return withEnvCredentials(connection, env);
}
