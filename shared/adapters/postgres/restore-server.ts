/**
 * The target server's side of a restore (the RestoreServer port) on one node-postgres session
 * to a maintenance database: the per-target lock, creating, dropping and renaming databases,
 * and counting the restored rows.
 */
import type pg from 'pg';
import { connectClient } from './client';
import { mapPgError } from './errors';
import type { PgConnection, TableRef } from '../../ports/postgres';
import { quoteIdent, quoteTable } from '../../domain/table-pattern';
import { DatabaseConnectionError, StrongboxError } from '../../errors';

import type { DatabaseLocale, RestoredCount, RestoreServer } from '../../ports/restore';

const LOCK_CLASS = 'strongbox-restore';
const SESSION_WAIT_MS = 10_000;

/**
 * Connects to the maintenance database of `target`'s server: `postgres`, or `template1` when
 * `postgres` is the target or does not exist.
 *
 * @throws DatabaseConnectionError (DB_UNREACHABLE, DB_AUTH_FAILED, DB_NOT_FOUND).
 */
export async function openRestoreServer(target: PgConnection): Promise<RestoreServer> {
  const candidates = target.database === 'postgres' ? ['template1'] : ['postgres', 'template1'];
  let client: pg.Client | undefined;
  for (const database of candidates) {
    try {
      client = await connectClient({ ...target, database });
      break;
    } catch (error) {
      if (!(error instanceof DatabaseConnectionError && error.code === 'DB_NOT_FOUND') || database === candidates.at(-1)) throw error;
    }
  }
  if (!client) throw new StrongboxError('UNEXPECTED', 'no maintenance database to connect to', 'check the target server');
  return new PgRestoreServer(client, target);
}

class PgRestoreServer implements RestoreServer {
  private closed = false;

  constructor(
    private readonly client: pg.Client,
    private readonly target: PgConnection,
  ) {}

  async lock(target: string): Promise<boolean> {
    const result = await this.query<{ ok: boolean }>('SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1), pg_catalog.hashtext($2)) AS ok', [LOCK_CLASS, target], 'lock the restore on');
    return result.rows[0]?.ok === true;
  }

  async listDatabases(): Promise<string[]> {
    const result = await this.query<{ name: string }>('SELECT datname AS name FROM pg_catalog.pg_database ORDER BY 1', [], 'list the databases of');
    return result.rows.map((r) => r.name);
  }

  async localeOf(name: string): Promise<DatabaseLocale | undefined> {
    // to_jsonb reads columns that differ between versions (daticulocale ≤ 16, datlocale 17+).
    const result = await this.query<{ encoding: string; row: Record<string, unknown> }>(
      'SELECT pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, to_jsonb(d) AS row FROM pg_catalog.pg_database d WHERE d.datname = $1',
      [name],
      'read the locale of a database on',
    );
    const found = result.rows[0];
    if (!found) return undefined;
    const { row } = found;
    const icu = row.datlocprovider === 'i' ? String(row.daticulocale ?? row.datlocale ?? '') : '';
    return { encoding: found.encoding, collate: String(row.datcollate), ctype: String(row.datctype), ...(icu ? { icuLocale: icu } : {}) };
  }

  async createDatabase(name: string, locale?: DatabaseLocale): Promise<void> {
    const literal = (text: string) => this.client.escapeLiteral(text);
    const options = locale
      ? ` ENCODING ${literal(locale.encoding)} LC_COLLATE ${literal(locale.collate)} LC_CTYPE ${literal(locale.ctype)}` +
        (locale.icuLocale ? ` LOCALE_PROVIDER icu ICU_LOCALE ${literal(locale.icuLocale)}` : '')
      : '';
    await this.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0${options}`, [], `create database "${name}" on`);
  }

  async dropDatabase(name: string): Promise<void> {
    await this.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, [], `drop database "${name}" on`);
  }

  async renameDatabase(from: string, to: string): Promise<void> {
    await this.endSessions([from]);
    await this.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`, [], `rename database "${from}" on`);
  }

  async swap(target: string, scratch: string, keptAs: string): Promise<void> {
    await this.query(`ALTER DATABASE ${quoteIdent(target)} WITH ALLOW_CONNECTIONS false`, [], `refuse new connections to "${target}" on`);
    try {
      await this.endSessions([target, scratch]);
      await this.query('BEGIN', [], 'swap the databases on');
      await this.query(`ALTER DATABASE ${quoteIdent(target)} RENAME TO ${quoteIdent(keptAs)}`, [], `rename "${target}" on`);
      await this.query(`ALTER DATABASE ${quoteIdent(scratch)} RENAME TO ${quoteIdent(target)}`, [], `rename "${scratch}" on`);
      // The kept database is for the operator to inspect: it accepts connections again.
      await this.query(`ALTER DATABASE ${quoteIdent(keptAs)} WITH ALLOW_CONNECTIONS true`, [], `allow connections to "${keptAs}" on`);
      await this.query('COMMIT', [], 'swap the databases on');
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      await this.client.query(`ALTER DATABASE ${quoteIdent(target)} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
      throw error;
    }
  }

  async countRows(database: string, tables: TableRef[]): Promise<RestoredCount[]> {
    const conn = { ...this.target, database };
    // Two sessions count side by side: a full scan of each table is what takes the time.
    const opened = await Promise.allSettled([connectClient(conn), ...(tables.length > 1 ? [connectClient(conn)] : [])]);
    const clients = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const refused = opened.find((result) => result.status === 'rejected');
    if (refused) {
      await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
      throw mapPgError(refused.reason, conn, 'count the restored rows on');
    }
    try {
      const present = await clients[0]!.query<{ schema: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')`,
      );
      const exists = new Set(present.rows.map((t) => quoteTable(t)));
      const counts: RestoredCount[] = tables.map((table) => ({ ...table, rows: undefined }));
      let next = 0;
      await Promise.all(
        clients.map(async (client) => {
          for (let index = next++; index < tables.length; index = next++) {
            const table = tables[index]!;
            if (!exists.has(quoteTable(table))) continue;
            const result = await client.query<{ rows: string }>(`SELECT count(*)::text AS rows FROM ONLY ${quoteTable(table)}`);
            counts[index] = { ...table, rows: Number(result.rows[0]?.rows ?? 0) };
          }
        }),
      );
      return counts;
    } catch (error) {
      throw mapPgError(error, conn, 'count the restored rows on');
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    }
  }


  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.end().catch(() => undefined);
  }

  /** Terminates every other session on `databases`, and waits until they are gone. */
  private async endSessions(databases: string[]): Promise<void> {
    const deadline = Date.now() + SESSION_WAIT_MS;
    for (;;) {
      const result = await this.query<{ left: string }>(
        `SELECT count(*) FILTER (WHERE NOT pg_catalog.pg_terminate_backend(pid, 1000))::text AS left
           FROM pg_catalog.pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_catalog.pg_backend_pid()`,
        [databases],
        'end the sessions on the databases of',
      );
      if (Number(result.rows[0]?.left ?? 0) === 0) return;
      if (Date.now() > deadline) {
        throw new StrongboxError('RESTORE_FAILED', `sessions on ${databases.map((d) => `"${d}"`).join(', ')} did not end within ${SESSION_WAIT_MS / 1000} s`, 'stop the applications using the database and run the restore again');
      }
    }
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[], doing: string): Promise<pg.QueryResult<R>> {
    try {
      return await this.client.query<R>(sql, params);
    } catch (error) {
      throw mapPgError(error, { ...this.target, database: this.client.database ?? this.target.database }, doing);
    }
  }
}
