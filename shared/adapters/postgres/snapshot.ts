/**
 * An exported PostgreSQL snapshot held open for the length of a backup: pg_dump reads it
 * with `--snapshot`, and the row counts of the manifest are taken in it, so the counts are
 * those of the dump's data even while the database keeps changing.
 */
import type pg from 'pg';
import { DumpError, StrongboxError } from '../../errors';
import { quoteTable } from '../../domain/table-pattern';
import { connectClient } from './client';
import { mapPgError } from './errors';
import { holdSnapshot, type HeldSnapshot, type InstantMethod } from './snapshot-instant';
import { DIGEST_SETTINGS, digestOrEstimate, EXACT_LIMIT_BYTES, tableSizes } from './table-digest';
import { resolveTables } from './tables';
import type { ResolvedTable } from './tables';
import type { PgConnection, TableCount } from '../../ports/postgres';
import type { SnapshotSession } from '../../ports/postgres';


/**
 * How long a backup waits for a table lock (its row counts, pg_dump's LOCK TABLE) before it
 * gives up. A lock it waits for can be queued behind a migration's ALTER TABLE that itself
 * waits for the backup's snapshot: a cycle PostgreSQL's deadlock detector cannot see (the
 * backup's two sessions wait on each other outside PostgreSQL), which would block the table
 * for everyone until someone stepped in.
 */
export const DEFAULT_LOCK_WAIT_SECONDS = 60;

/** DUMP_LOCK_TIMEOUT: the backup gave up a table lock rather than block a concurrent migration. */
export function lockWaitExceeded(what: string, cause?: unknown): StrongboxError {
  return new StrongboxError(
    'DUMP_LOCK_TIMEOUT',
    `the backup gave up waiting for a table lock while ${what}: another session (a migration's ALTER TABLE, a LOCK) holds or waits for it`,
    'nothing partial was kept; run the backup again once the migration is done (a backup and a migration wait for each other otherwise, and the table stays blocked for everyone)',
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Connects to `conn`, opens the snapshot transaction and resolves the tables.
 *
 * @throws DatabaseConnectionError (DB_UNREACHABLE, DB_AUTH_FAILED, DB_NOT_FOUND) when the
 *   connection fails; InputError when a pattern is invalid or matches no table; DumpError
 *   when a query fails otherwise.
 */
export async function openSnapshot(conn: PgConnection, options: { tablePatterns?: string[]; lockWaitSeconds?: number; exactLimitBytes?: number; instant?: InstantMethod; slotWaitMs?: number } = {}): Promise<SnapshotSession> {
  const client = await connectClient(conn);
  let held: HeldSnapshot | undefined;
  try {
    // The exported snapshot lives only as long as this idle transaction: no timeout may end it.
    // But a count never waits long for a lock (a migration's ALTER TABLE): it gives up instead.
    await client.query(`SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0; SET lock_timeout = '${Math.max(1, Math.round(options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS))}s'`);
    const server = await client.query<{ version: string; num: string; size: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num,
              pg_catalog.pg_database_size(pg_catalog.current_database())::text AS size`,
    );
    const systemIdentifier = await readSystemIdentifier(client);
    await client.query(DIGEST_SETTINGS);
    held = await holdSnapshot(client, conn, options.instant ?? 'auto', options.slotWaitMs);
    const tables = await resolveTables(client, conn.database, options.tablePatterns ?? []);
    const info = server.rows[0];
    if (!info) throw new DumpError('PostgreSQL returned no snapshot', 'this is unexpected; the server logs may say why');
    return session(client, conn, tables, held, options.exactLimitBytes ?? EXACT_LIMIT_BYTES, {
      snapshotId: held.snapshotId,
      serverVersion: info.version.split(' ')[0] ?? info.version,
      serverVersionNum: Number(info.num),
      databaseSizeBytes: Number(info.size),
      walLsn: held.walLsn,
      systemIdentifier,
      ...(held.instant ? { instant: held.instant } : {}),
    });
  } catch (error) {
    await held?.release();
    await client.end().catch(() => undefined);
    throw mapPgError(error, conn, 'open a snapshot on');
  }
}

type SessionInfo = Omit<SnapshotSession, 'tables' | 'countRows' | 'close'>;

function session(client: pg.Client, conn: PgConnection, tables: ResolvedTable[], held: HeldSnapshot, exactLimitBytes: number, info: SessionInfo): SnapshotSession {
  let closed = false;
  return {
    ...info,
    tables: tables.map(({ schema, name }) => ({ schema, name })),
    async countRows(signal?: AbortSignal) {
      if (closed) throw new DumpError('the snapshot session is closed', 'count the rows before closing the session');
      signal?.throwIfAborted();
      // pg's end() destroys the socket while a query is active: a count blocked on a lock ends at once.
      const drop = () => {
        closed = true;
        void client.end().catch(() => undefined);
        void held.release();
      };
      signal?.addEventListener('abort', drop, { once: true });
      const counts: TableCount[] = [];
      try {
        const sized = await tableSizes(client, tables.filter((t) => t.kind === 'r')).catch((error: unknown) => {
          if (signal?.aborted) throw signal.reason;
          // pg_relation_size takes the tables' share locks: it waits behind a migration like a count.
          if ((error as { code?: string }).code === '55P03') throw lockWaitExceeded('reading the table sizes', error);
          throw mapPgError(error, conn, 'read the table sizes on');
        });
        for (const table of sized) {
          try {
            counts.push(await digestOrEstimate(client, table, exactLimitBytes));
          } catch (error) {
            if (signal?.aborted) throw signal.reason;
            if ((error as { code?: string }).code === '55P03') throw lockWaitExceeded(`counting the rows of ${quoteTable(table)}`, error);
            throw mapPgError(error, conn, `count the rows of ${quoteTable(table)} on`);
          }
        }
      } finally {
        signal?.removeEventListener('abort', drop);
      }
      return counts;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.query('ROLLBACK');
      } catch {
        // A broken connection has no transaction left to end.
      } finally {
        await client.end().catch(() => undefined);
        await held.release();
      }
    },
  };
}

async function readSystemIdentifier(client: pg.Client): Promise<string> {
  try {
    const result = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()');
    return result.rows[0]?.id ?? '';
  } catch {
    // Outside a transaction, a refused function call leaves the session usable.
    return '';
  }
}
