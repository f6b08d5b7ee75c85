import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PgConnection } from '../ports/postgres';

/**
 * Adds the password sources libpq would use when `connection` names none: PGPASSWORD, then
 * PGPASSFILE, then ~/.pgpass (only when the file exists; the adapter reads it). A connection
 * that already has a password or passfile is returned as it is. Never throws.
 */
export function withEnvCredentials(connection: PgConnection, env: NodeJS.ProcessEnv): PgConnection {
  if (connection.password !== undefined || connection.passfile !== undefined) return connection;
  if (env.PGPASSWORD) return { ...connection, password: env.PGPASSWORD };
  const passfile = env.PGPASSFILE ?? (env.HOME ? join(env.HOME, '.pgpass') : undefined);
  return passfile && existsSync(passfile) ? { ...connection, passfile } : connection;
}
