/**
 * What the physical drill reads in a recovered cluster paused at an instant: each table's digest
 * (rows and checksum from one scan, as the backup took them), the tables there are, and which
 * transactions had committed at that point.
 */
import { quoteTable } from '../../domain/table-pattern';
import { connectClient } from './client';
import { DIGEST_SETTINGS, digestTable } from './table-digest';
import { resolveTables } from './tables';
import type { PgConnection, TableRef } from '../../ports/postgres';

/** Digests of `tables` (quoted name → rows and checksum) and every plain table present (quoted). */
export async function readRecoveredTables(conn: PgConnection, tables: readonly TableRef[]): Promise<{ digests: Map<string, { rows: number; checksum: string }>; present: string[] }> {
  const client = await connectClient(conn);
  try {
    await client.query(DIGEST_SETTINGS);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const present = (await resolveTables(client, conn.database, [])).filter((t) => t.kind === 'r').map(quoteTable);
    const there = new Set(present);
    const digests = new Map<string, { rows: number; checksum: string }>();
    for (const table of tables) {
      if (there.has(quoteTable(table))) digests.set(quoteTable(table), await digestTable(client, table));
    }
    await client.query('COMMIT');
    return { digests, present };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Among `xip` (a snapshot's in-progress xids) and the xids from its `xmax` up to the recovered
 * cluster's own xmax, those that had committed at the recovered point: transactions whose
 * commit record lies before that point although the snapshot did not see them.
 */
export async function committedAmong(conn: PgConnection, xip: readonly string[], xmax: string): Promise<string[]> {
  const client = await connectClient(conn);
  try {
    const result = await client.query<{ xid: string }>(
      `WITH candidates AS (
         SELECT x::xid8 AS xid FROM unnest($1::text[]) AS x
         UNION
         SELECT g::text::xid8 FROM generate_series($2::numeric, pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::numeric - 1) AS g
       )
       -- A transaction at or past the scratch's own xmax has not been replayed yet: not committed
       -- there (pg_xact_status would refuse it as "in the future"); CASE keeps that order.
       SELECT xid::text AS xid FROM candidates
        WHERE CASE WHEN xid < pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()) THEN pg_catalog.pg_xact_status(xid) = 'committed' ELSE false END
        ORDER BY 1`,
      [xip, xmax],
    );
    return result.rows.map((r) => r.xid);
  } finally {
    await client.end().catch(() => undefined);
  }
}
