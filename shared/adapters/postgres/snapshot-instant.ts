/**
 * Opens a backup's snapshot so that its instant in the WAL is known — exactly where the server
 * allows it, within two bounds otherwise — for the physical drill to recover to that instant.
 *
 * - wal_level = logical, a primary, a role that may replicate: a TEMPORARY logical replication
 *   slot is created on a replication connection with SNAPSHOT 'export'. Its consistent point is
 *   an LSN such that the exported snapshot sees exactly the transactions whose commit record
 *   starts before it (what logical replication's initial copy relies on). Recovery with
 *   recovery_target_lsn = that point, exclusive, replays exactly those commits.
 * - otherwise: the insert LSN (a standby's replay LSN) is read just before and just after the
 *   snapshot is taken, with the snapshot's xmax and in-progress xids.
 *
 * The caller's session ends inside a REPEATABLE READ, READ ONLY transaction holding the
 * snapshot; `snapshotId` is what pg_dump --snapshot takes.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { SnapshotInstant } from '../../domain/manifest';
import { StrongboxError } from '../../errors';
import { clientConfig } from './client';
import type { PgConnection } from '../../ports/postgres';

/** The snapshot held, where it lies, and what to end when the backup is done. */
export interface HeldSnapshot {
  snapshotId: string;
  /** pg_current_wal_lsn() at the snapshot, or the slot's consistent point. */
  walLsn: string;
  /** Absent when the WAL positions could not be read. */
  instant?: SnapshotInstant;
  /** Ends the replication connection (the temporary slot goes with it); idempotent. */
  release(): Promise<void>;
}

const LSN_NOW = `(CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_insert_lsn() END)::text`;

/** How to place the snapshot: `auto` (a logical slot where possible) or `bounds` only. */
export type InstantMethod = 'auto' | 'bounds';

/**
 * Begins the snapshot transaction on `client` (connected to `conn`, no transaction open).
 *
 * @throws what the queries throw (the caller maps them); a refused or failed logical slot is no
 *   error: the bounds are used instead.
 */
export async function holdSnapshot(client: pg.Client, conn: PgConnection, method: InstantMethod, slotWaitMs = SLOT_WAIT_MS): Promise<HeldSnapshot> {
  if (method === 'auto' && (await mayUseLogicalSlot(client))) {
    const held = await viaLogicalSlot(client, conn, slotWaitMs).catch(() => undefined);
    if (held) return held;
  }
  return viaBounds(client);
}

/**
 * How long the slot's creation may wait: it waits for every transaction running when it began
 * to end (to build a consistent snapshot), so one long transaction would hold the backup back.
 * Past this, the connection is dropped (the server abandons the temporary slot) and the bounds
 * are used instead.
 */
export const SLOT_WAIT_MS = 30_000;

async function mayUseLogicalSlot(client: pg.Client): Promise<boolean> {
  const result = await client.query<{ ok: boolean }>(
    `SELECT current_setting('wal_level') = 'logical' AND NOT pg_catalog.pg_is_in_recovery()
            AND (SELECT rolsuper OR rolreplication FROM pg_catalog.pg_roles WHERE rolname = current_user) AS ok`,
  );
  return result.rows[0]?.ok === true;
}

async function viaLogicalSlot(client: pg.Client, conn: PgConnection, slotWaitMs: number): Promise<HeldSnapshot> {
  const replication = new pg.Client({ ...clientConfig(conn), replication: 'database' } as pg.ClientConfig);
  replication.on('error', () => undefined);
  let ended = false;
  const release = async () => {
    if (ended) return;
    ended = true;
    await replication.end().catch(() => undefined);
  };
  try {
    await replication.connect();
    const name = `strongbox_snap_${randomBytes(6).toString('hex')}`;
    // The temporary slot lives as long as this connection: it is never left behind.
    let timer: NodeJS.Timeout | undefined;
    const tooLong = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the logical slot was not created within ${slotWaitMs} ms (a long transaction is running)`)), slotWaitMs);
    });
    const created = await Promise.race([replication.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${name} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`), tooLong]).finally(() => clearTimeout(timer));
    const slot = created.rows[0];
    if (!slot?.snapshot_name || !slot.consistent_point) throw new StrongboxError('DUMP_FAILED', 'the temporary replication slot exported no snapshot', 'PostgreSQL answered CREATE_REPLICATION_SLOT without one: check its log; the backup can run again');
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${slot.snapshot_name.replace(/'/g, "''")}'`);
    return { snapshotId: slot.snapshot_name, walLsn: slot.consistent_point, instant: { method: 'logical-slot', lsn: slot.consistent_point }, release };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    await release();
    throw error;
  }
}

async function viaBounds(client: pg.Client): Promise<HeldSnapshot> {
  const before = await client.query<{ lsn: string | null }>(`SELECT ${LSN_NOW} AS lsn`);
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  // The transaction's snapshot is taken as this first statement starts.
  const exported = await client.query<{ id: string; lsn: string | null; snap: string }>(
    `SELECT pg_catalog.pg_export_snapshot() AS id,
            (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END)::text AS lsn,
            pg_catalog.pg_current_snapshot()::text AS snap`,
  );
  const after = await client.query<{ lsn: string | null }>(`SELECT ${LSN_NOW} AS lsn`);
  const row = exported.rows[0];
  if (!row) throw new StrongboxError('DUMP_FAILED', 'PostgreSQL exported no snapshot (pg_export_snapshot returned no row)', 'check the server\'s log; the backup can run again');
  const [, xmax = '0', xip = ''] = row.snap.split(':');
  const beforeLsn = before.rows[0]?.lsn;
  const afterLsn = after.rows[0]?.lsn;
  return {
    snapshotId: row.id,
    walLsn: row.lsn ?? '',
    // Without WAL positions, the instant is unknown: the drill says so.
    ...(beforeLsn && afterLsn ? { instant: { method: 'lsn-bounds' as const, beforeLsn, afterLsn, xmax, xip: xip === '' ? [] : xip.split(',') } } : {}),
    release: async () => undefined,
  };
}
