/**
 * Opens node-postgres clients from a PgConnection with the same rules libpq tools follow
 * with pgEnv(): the password comes from the connection or its passfile, never from this
 * process's environment, so the driver and pg_dump always log in the same way.
 */
import { readFile, stat } from 'node:fs/promises';
import pg from 'pg';
import type { ClientConfig } from 'pg';
import { passwordFromPassfile } from '../../domain/connection';
import { mapPgError } from './errors';
import type { PgConnection } from '../../ports/postgres';

const CONNECT_TIMEOUT_MS = 10_000;

/** node-postgres settings for `conn`; the password is looked up only if the server asks for one. */
export function clientConfig(conn: PgConnection): ClientConfig {
  return {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database: conn.database,
    // A function keeps pg from falling back on PGPASSWORD or ~/.pgpass of this process.
    password: async () => (await lookUpPassword(conn)) ?? '',
    ssl: sslOption(conn.sslmode),
    application_name: 'strongbox',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
}

/**
 * Connects a new client to `conn`. The caller must `end()` it.
 *
 * @throws DatabaseConnectionError (DB_UNREACHABLE, DB_AUTH_FAILED, DB_NOT_FOUND) or DumpError.
 */
export async function connectClient(conn: PgConnection): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(conn));
  // A dropped connection is reported by the next query; without a listener it would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw mapPgError(error, conn);
  }
  return client;
}

async function lookUpPassword(conn: PgConnection): Promise<string | undefined> {
  if (conn.password !== undefined) return conn.password;
  if (conn.passfile === undefined) return undefined;
  // libpq ignores a passfile others can read; so do we, or the driver and pg_dump would disagree.
  const mode = await stat(conn.passfile).then((s) => s.mode, () => undefined);
  if (mode === undefined || (mode & 0o077) !== 0) return undefined;
  const text = await readFile(conn.passfile, 'utf8').catch(() => '');
  return passwordFromPassfile(text, conn);
}

function sslOption(sslmode: string | undefined): ClientConfig['ssl'] {
  switch (sslmode) {
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full':
      return { rejectUnauthorized: true };
    default:
      // disable / allow / prefer: node-postgres cannot fall back from TLS, so it does not try.
      return false;
  }
}
