/**
 * The restore benchmark's housekeeping on the benchmark server: creating the empty target a
 * Strongbox restore replaces, dropping what each run leaves (the restored database, the
 * `<target>_before_restore_<ts>` the swap keeps, a killed run's scratch database) and a
 * checkpoint between runs, so that no run flushes the previous one's dirty pages.
 */
import type pg from 'pg';
import { connectClient } from '../../shared/adapters/postgres/client';
import type { PgConnection } from '../../shared/ports/postgres';
import { quoteIdent } from '../../shared/domain/table-pattern';

/** One session on the benchmark server's maintenance database. */
export interface DatabaseAdmin {
  /** CREATE DATABASE `name` (empty, from template1, as createdb does). */
  create(name: string): Promise<void>;
  /** Drops every database whose name starts with one of `prefixes` (sessions ended first); returns their names. */
  dropStartingWith(prefixes: readonly string[]): Promise<string[]>;
  /** CHECKPOINT: the next run starts with no dirty buffers of this one. */
  checkpoint(): Promise<void>;
  /** Ends the session. Idempotent. */
  close(): Promise<void>;
}

/**
 * Connects to the `postgres` database of `conn`'s server.
 *
 * @throws DatabaseConnectionError when the server cannot be reached.
 */
export async function openAdmin(conn: PgConnection): Promise<DatabaseAdmin> {
  const client: pg.Client = await connectClient({ ...conn, database: 'postgres' });
  let closed = false;
  return {
    async create(name) {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    },
    async dropStartingWith(prefixes) {
      const found = await client.query<{ name: string }>('SELECT datname AS name FROM pg_catalog.pg_database WHERE datname LIKE ANY ($1::text[]) ORDER BY 1', [
        prefixes.map((prefix) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`),
      ]);
      const names = found.rows.map((row) => row.name);
      for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      return names;
    },
    async checkpoint() {
      await client.query('CHECKPOINT');
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.end().catch(() => undefined);
    },
  };
}
