import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PgConnection } from '../ports/postgres';
import type { DatabaseConfig, StrongboxConfig } from '../config';
import type { Compression } from '../domain/backup';
import { parseDatabaseUrl } from '../domain/connection';
import { assertDatabaseName } from '../domain/keys';
import { ConfigError, InputError } from '../errors';
import { withEnvCredentials } from './env-credentials';
import type { HomePaths } from './home';

/** The name local mode gives its throwaway demo database. */
export const DEMO_DATABASE = 'demo';

/** A database to back up, resolved to a connection (password only from env, passfile or secret). */
export interface ResolvedDatabase {
  name: string;
  connection: PgConnection;
  compression: Compression;
  includeRolePasswords: boolean;
  secretArn?: string;
  /** The config's `dumpJobs` (docs/backups.md). */
  dumpJobs?: number;
}

/** Where local mode's demo cluster records how to reach it. */
export function demoConnectionFile(paths: HomePaths): string {
  return join(paths.root, 'demo-connection.json');
}

function readDemoConnection(paths: HomePaths): PgConnection | undefined {
  try {
    return JSON.parse(readFileSync(demoConnectionFile(paths), 'utf8')) as PgConnection;
  } catch {
    return undefined;
  }
}

function fromConfig(entry: DatabaseConfig, env: NodeJS.ProcessEnv): ResolvedDatabase {
  const url = entry.url ?? (Object.keys(env).includes('DATABASE_URL') ? env.DATABASE_URL : undefined);
  if (!url) {
    throw new ConfigError(`database "${entry.name}" has no "url"`, 'add "url" (without password) to its entry in strongbox.config.json, or set DATABASE_URL');
  }
  const connection = parseDatabaseUrl(url);
  return {
    name: entry.name,
    connection: { ...connection, ...(entry.passfile ? { passfile: entry.passfile } : {}) },
    compression: entry.compression,
    includeRolePasswords: entry.includeRolePasswords,
    ...(entry.secretArn ? { secretArn: entry.secretArn } : {}),
    ...(entry.dumpJobs !== undefined ? { dumpJobs: entry.dumpJobs } : {}),
  };
}

/**
 * The database names local mode knows without the catalog: the config's, DATABASE_URL's
 * database, and the demo database when `npm start` made one. Never throws (a malformed
 * DATABASE_URL adds nothing).
 */
export function configuredDatabaseNames(config: StrongboxConfig, env: NodeJS.ProcessEnv, paths: HomePaths): string[] {
  const names = config.databases.map((database) => database.name);
  if (env.DATABASE_URL) {
    try {
      names.push(parseDatabaseUrl(env.DATABASE_URL).database);
    } catch {
      // Reported by the command that uses it.
    }
  }
  if (readDemoConnection(paths)) names.push(DEMO_DATABASE);
  return [...new Set(names)];
}

/**
 * Which database a command is about: `--database-url` (which must carry no password:
 * argv is visible to every user), `--database NAME` from the config or the local demo
 * cluster, DATABASE_URL from the environment, the only configured database, or the demo
 * database. Throws InputError / ConfigError with a hint when none fits.
 */
export function resolveDatabase(
  request: { name?: string; url?: string; compression?: Compression },
  config: StrongboxConfig,
  env: NodeJS.ProcessEnv,
  paths: HomePaths,
): ResolvedDatabase {
  const withCompression = (resolved: ResolvedDatabase): ResolvedDatabase => ({
    ...resolved,
    connection: withEnvCredentials(resolved.connection, env),
    ...(request.compression ? { compression: request.compression } : {}),
  });
  if (request.url) {
    const connection = parseDatabaseUrl(request.url);
    if (connection.password !== undefined) {
      throw new InputError('--database-url must not contain a password (other users can read command lines)', 'put the URL with its password in DATABASE_URL, or use PGPASSFILE');
    }
    const name = request.name ?? connection.database;
    assertDatabaseName(name);
    return withCompression({ name, connection, compression: 'gzip', includeRolePasswords: false });
  }
  if (request.name) {
    const entry = config.databases.find((database) => database.name === request.name);
    if (entry) return withCompression(fromConfig(entry, env));
    if (env.DATABASE_URL) {
      const fromEnv = parseDatabaseUrl(env.DATABASE_URL);
      if (fromEnv.database === request.name) return withCompression({ name: request.name, connection: fromEnv, compression: 'gzip', includeRolePasswords: false });
    }
    const demo = request.name === DEMO_DATABASE ? readDemoConnection(paths) : undefined;
    if (demo) return withCompression({ name: DEMO_DATABASE, connection: demo, compression: 'gzip', includeRolePasswords: false });
    const known = configuredDatabaseNames(config, env, paths);
    throw new InputError(`no database named "${request.name}"`, known.length ? `known: ${known.join(', ')}` : 'add it to strongbox.config.json, or pass --database-url');
  }
  if (env.DATABASE_URL) {
    const connection = parseDatabaseUrl(env.DATABASE_URL);
    assertDatabaseName(connection.database);
    return withCompression({ name: connection.database, connection, compression: 'gzip', includeRolePasswords: false });
  }
  if (config.databases.length === 1) return withCompression(fromConfig(config.databases[0]!, env));
  const demo = readDemoConnection(paths);
  if (demo && config.databases.length === 0) return withCompression({ name: DEMO_DATABASE, connection: demo, compression: 'gzip', includeRolePasswords: false });
  throw new InputError(
    config.databases.length ? 'several databases are configured: say which one' : 'no database to back up',
    config.databases.length ? `use --database with one of: ${config.databases.map((d) => d.name).join(', ')}` : 'set DATABASE_URL, pass --database-url, or run `npm start` for a demo database',
  );
}
