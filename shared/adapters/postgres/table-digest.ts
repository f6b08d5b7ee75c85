/**
 * A table's row count and content checksum in ONE scan, or — for a table too big to read a
 * second time beside pg_dump — the planner's estimate, marked as such. The same digest is
 * taken at the backup (in the dump's snapshot) and by the physical drill (in the recovered
 * cluster at the snapshot's instant): equal digests mean equal contents.
 *
 * The checksum is order-independent (the sum of a 64-bit hash of each row's text, so a
 * synchronized or parallel scan that starts mid-table gives the same value) and taken under
 * fixed output settings (dates, times, floats, bytea), so two sessions agree.
 */
import type pg from 'pg';
import { quoteTable } from '../../domain/table-pattern';
import type { TableCount, TableRef } from '../../ports/postgres';

/**
 * Tables up to this size (pg_table_size: heap and TOAST, no indexes) are counted exactly and
 * checksummed; bigger ones get the estimate. 1 GiB: at ~100–200 MB/s a second scan of a table
 * under it costs seconds, while a 1 TB table would cost hours beside a single-threaded pg_dump.
 */
export const EXACT_LIMIT_BYTES = 1024 ** 3;

/** The version of the checksum's recipe, first in every checksum (`v1:`). */
export const CHECKSUM_VERSION = 'v1';

/** Session settings under which every row renders the same text in every session. */
export const DIGEST_SETTINGS = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = 'hex'";

/** A table the digest reads, with its size. */
export interface SizedTable extends TableRef {
  bytes: number;
}

/** The sizes of `tables` (plain tables and partitions) as the session sees them. */
export async function tableSizes(client: pg.Client, tables: readonly TableRef[]): Promise<SizedTable[]> {
  if (tables.length === 0) return [];
  const result = await client.query<{ schema: string; name: string; bytes: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_catalog.pg_table_size(c.oid)::text AS bytes
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const sizes = new Map(result.rows.map((r) => [quoteTable(r), Number(r.bytes)]));
  return tables.map((t) => ({ schema: t.schema, name: t.name, bytes: sizes.get(quoteTable(t)) ?? 0 }));
}

/**
 * Counts the rows of `table` and checksums them in the same scan (`FROM ONLY`: a partition's
 * rows are its own). The session must have run DIGEST_SETTINGS.
 */
export async function digestTable(client: pg.Client, table: TableRef): Promise<{ rows: number; checksum: string }> {
  const result = await client.query<{ rows: string; sum: string }>(
    `SELECT count(*)::text AS rows,
            coalesce(sum(pg_catalog.hashtextextended(ROW(strongbox_row.*)::text, 0)::numeric), 0)::text AS sum
       FROM ONLY ${quoteTable(table)} AS strongbox_row`,
  );
  const row = result.rows[0];
  return { rows: Number(row?.rows ?? 0), checksum: `${CHECKSUM_VERSION}:${BigInt(row?.sum ?? '0').toString(16)}` };
}

/** The planner's row estimate of `table` (reltuples; 0 when never analysed). */
export async function estimateRows(client: pg.Client, table: TableRef): Promise<number> {
  const result = await client.query<{ rows: string }>(
    `SELECT greatest(c.reltuples, 0)::bigint::text AS rows FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  return Number(result.rows[0]?.rows ?? 0);
}

/**
 * The rule, per table: up to `exactLimitBytes`, the exact count and the checksum from one scan;
 * above, the estimate with `estimate: true` and no checksum.
 */
export async function digestOrEstimate(client: pg.Client, table: SizedTable, exactLimitBytes: number): Promise<TableCount> {
  const ref = { schema: table.schema, name: table.name };
  if (table.bytes > exactLimitBytes) return { ...ref, rows: await estimateRows(client, ref), estimate: true };
  return { ...ref, ...(await digestTable(client, ref)) };
}
