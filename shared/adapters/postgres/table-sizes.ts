/**
 * The size on disk of each table a backup dumps (pg_table_size: heap and TOAST, no indexes),
 * to balance the parallel dump's data parts (shared/domain/dump-groups.ts).
 */
import type { PgConnection, TableRef } from '../../ports/postgres';
import type { SizedTable } from '../../domain/dump-groups';
import { connectClient } from './client';
import { mapPgError } from './errors';
import { DEFAULT_LOCK_WAIT_SECONDS, lockWaitExceeded } from './snapshot';

/**
 * One query for every table: a table dropped meanwhile counts 0 bytes. pg_table_size takes
 * the table's share lock, so it gives up after `lockWaitSeconds` as pg_dump would.
 *
 * @throws DatabaseConnectionError when the connection fails; StrongboxError DUMP_LOCK_TIMEOUT
 *   when a table stays locked; DumpError otherwise.
 */
export async function readTableSizes(conn: PgConnection, tables: readonly TableRef[], options: { lockWaitSeconds?: number } = {}): Promise<SizedTable[]> {
  const client = await connectClient(conn);
  try {
    await client.query(`SET lock_timeout = '${Math.max(1, Math.round(options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS))}s'`);
    const result = await client.query<{ i: number; bytes: string }>(
      `SELECT t.i, COALESCE(pg_catalog.pg_table_size(c.oid), 0)::text AS bytes
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, name, i)
         LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
         LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name`,
      [tables.map((t) => t.schema), tables.map((t) => t.name)],
    );
    const sizes = new Map(result.rows.map((row) => [Number(row.i), Number(row.bytes)]));
    return tables.map((t, index) => ({ schema: t.schema, name: t.name, bytes: sizes.get(index + 1) ?? 0 }));
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') throw lockWaitExceeded('reading the table sizes for the parallel dump', error);
    throw mapPgError(error, conn, 'read the table sizes on');
  } finally {
    await client.end().catch(() => undefined);
  }
}
