/**
 * What Strongbox asks a live server about its WAL: archiving settings, the role's rights,
 * the archiver's counters, and the two writes of the 15-minute checkpoint (a WAL switch
 * and a named restore point). One short connection per call: these run a few times an hour.
 */
import type pg from 'pg';
import { StrongboxError } from '../../errors';
import { parseLsn, parseWalName, segmentName, segnoOfLsn } from '../../domain/wal/names';
import { redactConnection } from '../../domain/connection';
import { connectClient } from './client';
import { mapPgError } from './errors';
import type { PgConnection } from '../../ports/postgres';
import type { ArchiveSettings, ArchiverStats, RoleRights, WalPosition, WalServer } from '../../ports/wal-server';

const SETTING_NAMES = ['wal_level', 'archive_mode', 'archive_command', 'archive_library', 'archive_timeout', 'max_wal_senders', 'server_version_num', 'wal_segment_size'];
const UNIT_BYTES: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, '8kB': 8192 };
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };

/**
 * Reads the archiving settings from pg_settings (values normalised to seconds and bytes).
 *
 * @throws DatabaseConnectionError when the server cannot be reached; DumpError otherwise.
 */
export async function readArchiveSettings(conn: PgConnection): Promise<ArchiveSettings> {
  return withClient(conn, 'read the archiving settings of', async (client) => {
    const { rows } = await client.query<{ name: string; setting: string; reset_val: string; unit: string | null }>(
      'SELECT name, setting, reset_val, unit FROM pg_settings WHERE name = ANY($1)',
      [SETTING_NAMES],
    );
    const byName = new Map(rows.map((row) => [row.name, row]));
    const text = (name: string) => byName.get(name)?.setting ?? '';
    // With archive_mode off the server shows "(disabled)"; reset_val still holds the configured command.
    const command = byName.get('archive_command');
    const archiveCommand = command?.setting === '(disabled)' ? command.reset_val : (command?.setting ?? '');
    const scaled = (name: string, units: Record<string, number>) => {
      const row = byName.get(name);
      return row ? Number(row.setting) * (row.unit ? (units[row.unit] ?? 1) : 1) : 0;
    };
    return {
      walLevel: text('wal_level'),
      archiveMode: text('archive_mode'),
      archiveCommand,
      archiveLibrary: text('archive_library'),
      archiveTimeoutSeconds: scaled('archive_timeout', UNIT_SECONDS),
      maxWalSenders: Number(text('max_wal_senders') || '0'),
      serverVersionNum: Number(text('server_version_num') || '0'),
      walSegmentSize: scaled('wal_segment_size', UNIT_BYTES),
    };
  });
}

/**
 * The connected role's attributes and its EXECUTE rights on pg_switch_wal() and
 * pg_create_restore_point(text).
 *
 * @throws DatabaseConnectionError or DumpError.
 */
export async function readRole(conn: PgConnection): Promise<RoleRights> {
  return withClient(conn, 'read the role of', async (client) => {
    const { rows } = await client.query<{ name: string; rolsuper: boolean; rolreplication: boolean; switch: boolean; restore: boolean }>(
      `SELECT current_user AS name, r.rolsuper, r.rolreplication,
              has_function_privilege('pg_switch_wal()', 'EXECUTE') AS switch,
              has_function_privilege('pg_create_restore_point(text)', 'EXECUTE') AS restore
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const row = rows[0]!;
    return { name: row.name, superuser: row.rolsuper, replication: row.rolreplication, canSwitchWal: row.switch, canCreateRestorePoint: row.restore };
  });
}

/**
 * The archiver's counters (pg_stat_archiver).
 *
 * @throws DatabaseConnectionError or DumpError.
 */
export async function readArchiver(conn: PgConnection): Promise<ArchiverStats> {
  return withClient(conn, 'read pg_stat_archiver of', async (client) => {
    const { rows } = await client.query<{
      archived_count: string;
      last_archived_wal: string | null;
      last_archived_time: Date | null;
      failed_count: string;
      last_failed_wal: string | null;
      last_failed_time: Date | null;
      stats_reset: Date | null;
    }>('SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time, stats_reset FROM pg_stat_archiver');
    const row = rows[0]!;
    return {
      archivedCount: Number(row.archived_count),
      failedCount: Number(row.failed_count),
      ...(row.last_archived_wal ? { lastArchivedWal: row.last_archived_wal } : {}),
      ...(row.last_archived_time ? { lastArchivedAt: row.last_archived_time.toISOString() } : {}),
      ...(row.last_failed_wal ? { lastFailedWal: row.last_failed_wal } : {}),
      ...(row.last_failed_time ? { lastFailedAt: row.last_failed_time.toISOString() } : {}),
      ...(row.stats_reset ? { statsResetAt: row.stats_reset.toISOString() } : {}),
    };
  });
}

/**
 * Closes the current segment so that it is archived now: first writes a tiny WAL record
 * (a logical message, or a transaction id on servers that refuse it) because a switch on
 * an idle server switches nothing. Returns the switch's LSN and the segment it closed.
 *
 * @throws StrongboxError DB_PERMISSION_DENIED when the role may not call pg_switch_wal();
 *   DatabaseConnectionError or DumpError otherwise.
 */
export async function switchWal(conn: PgConnection): Promise<WalPosition> {
  return withClient(conn, 'switch WAL on', async (client) => {
    await emitMarker(client);
    const { rows } = await client.query<{ lsn: string; segment: string }>('SELECT lsn::text AS lsn, pg_walfile_name(lsn) AS segment FROM pg_switch_wal() AS lsn');
    const row = rows[0]!;
    return { lsn: row.lsn, segment: row.segment, timeline: parseWalName(row.segment).timeline };
  });
}

/**
 * Creates a named restore point (the name travels as a bind parameter) and returns its
 * LSN and the timeline it is on.
 *
 * @throws StrongboxError DB_PERMISSION_DENIED without EXECUTE on pg_create_restore_point;
 *   DatabaseConnectionError or DumpError otherwise (e.g. wal_level = minimal).
 */
export async function createRestorePoint(conn: PgConnection, name: string): Promise<{ lsn: string; timeline: number }> {
  return withClient(conn, 'create a restore point on', async (client) => {
    const { rows } = await client.query<{ lsn: string; segment: string }>('SELECT lsn::text AS lsn, pg_walfile_name(lsn) AS segment FROM pg_create_restore_point($1) AS lsn', [name]);
    const row = rows[0]!;
    return { lsn: row.lsn, timeline: parseWalName(row.segment).timeline };
  });
}

/**
 * The current insert position (what the next record follows: newer than what is written
 * out), the segment holding it and the timeline.
 *
 * @throws DatabaseConnectionError or DumpError (also on a standby: it has no write position).
 */
export async function currentWal(conn: PgConnection): Promise<WalPosition> {
  return withClient(conn, 'read the WAL position of', async (client) => {
    const { rows } = await client.query<{ lsn: string; segment: string; size: string }>(
      `SELECT lsn::text AS lsn, pg_walfile_name(lsn) AS segment, (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS size
         FROM pg_current_wal_insert_lsn() AS lsn`,
    );
    const row = rows[0]!;
    const timeline = parseWalName(row.segment).timeline;
    const size = Number(row.size);
    // pg_walfile_name names the previous segment for an LSN on a boundary; the position itself is in the next one.
    return { lsn: row.lsn, timeline, segment: segmentName(timeline, segnoOfLsn(parseLsn(row.lsn), size), size) };
  });
}

/**
 * The cluster's system identifier (decimal string), as WAL segment headers carry it.
 *
 * @throws StrongboxError DB_PERMISSION_DENIED when the role may not read pg_control_system();
 *   DatabaseConnectionError or DumpError otherwise.
 */
export async function systemIdentifier(conn: PgConnection): Promise<string> {
  return withClient(conn, 'read the system identifier of', async (client) => {
    const { rows } = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    return rows[0]!.id;
  });
}

async function emitMarker(client: pg.Client): Promise<void> {
  try {
    await client.query("SELECT pg_logical_emit_message(false, 'strongbox', 'checkpoint')");
  } catch {
    // Committing a transaction that holds an xid writes a commit record: WAL all the same.
    await client.query('SELECT pg_current_xact_id()');
  }
}

async function withClient<T>(conn: PgConnection, doing: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient(conn);
  try {
    return await fn(client);
  } catch (error) {
    throw mapWalError(error, conn, doing);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function mapWalError(error: unknown, conn: PgConnection, doing: string): StrongboxError {
  if ((error as { code?: unknown } | null)?.code === '42501') {
    return new StrongboxError(
      'DB_PERMISSION_DENIED',
      `could not ${doing} ${redactConnection(conn)}: ${(error as Error).message}`,
      `grant the right to Strongbox's role (\`strongbox doctor\` prints the GRANT), e.g. GRANT EXECUTE ON FUNCTION pg_switch_wal() TO ${conn.user}`,
      { cause: error },
    );
  }
  return mapPgError(error, conn, doing);
}

/** The real server, through node-postgres. */
export const pgWalServer: WalServer = { readArchiveSettings, readRole, readArchiver, switchWal, createRestorePoint, currentWal, systemIdentifier };
