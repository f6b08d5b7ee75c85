/**
 * A cluster recovered to a moment, as the source of a table restore: reachable only over its
 * Unix socket (its own pg_hba.conf trusts local connections; no TCP), its tables listed and
 * counted, one database dumped with pg_dump, then stopped and removed. The cluster belongs to
 * the task: nobody else connects, so its counts and its dump see the same rows.
 */
import type pg from 'pg';
import { DumpError, StrongboxError } from '../../errors';
import type { RecoveredCluster } from '../../ports/restore-table-as-of';
import { connectClient } from './client';
import { runCommand } from './process';
import { openRestoreServer } from './restore-server';
import { matchTables } from './tables';
import { toolEnv } from './tool-stream';
import type { PgConnection, TableRef } from '../../ports/postgres';

/**
 * Opens the recovered scratch cluster as its bootstrap superuser (the role with oid 10), found
 * by logging in as the role the recovery asked with (`postgres` or the target's user).
 *
 * @throws StrongboxError RECOVERY_FAILED when it cannot log in.
 */
export async function openRecoveredCluster(connectAs: (database: string) => PgConnection): Promise<RecoveredCluster> {
  let superuser: string | undefined;
  try {
    const client = await connectClient(connectAs('template1'));
    try {
      superuser = (await client.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles WHERE oid = 10')).rows[0]?.rolname;
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    throw new StrongboxError('RECOVERY_FAILED', `cannot log in to the recovered cluster: ${String(error)}`, 'the scratch trusts its private socket; check that the base backup holds the role "postgres" or the target\'s user', { cause: error });
  }
  const connection = (database: string): PgConnection => ({ ...connectAs(database), ...(superuser ? { user: superuser } : {}) });
  return {
    connection,
    tables: (database) => listTables(connection(database)),
    countRows: async (database, tables) => {
      const server = await openRestoreServer(connection(database));
      try {
        return await server.countRows(database, tables);
      } finally {
        await server.close();
      }
    },
    dump: (database, file, excludeData, signal) => dumpDatabase(connection(database), file, excludeData, signal),
  };
}

/** The user tables of `conn.database` that hold rows (partitioned parents left out, as manifests do). */
async function listTables(conn: PgConnection): Promise<TableRef[]> {
  let client: pg.Client | undefined;
  try {
    client = await connectClient(conn);
    const all = await matchTables(client, conn.database, []);
    return all.filter((t) => t.kind === 'r').map(({ schema, name }): TableRef => ({ schema, name }));
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/**
 * `pg_dump -Fc --no-owner --no-acl` of the database into `file` (uncompressed: it stays on the
 * task's disk for minutes), leaving out the rows of `excludeData`.
 *
 * @throws DumpError with pg_dump's last lines.
 */
async function dumpDatabase(conn: PgConnection, file: string, excludeData: string[], signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const args = ['--format=custom', '--compress=0', '--no-owner', '--no-acl', '--no-password', '--file', file, ...excludeData.flatMap((p) => ['--exclude-table-data', p])];
  const result = await runCommand('pg_dump', args, { env: toolEnv(conn), cwd: '/' });
  if (result.code !== 0) throw new DumpError(`pg_dump of the recovered database "${conn.database}" failed: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`, 'nothing was changed on the target; read the message, then run the table restore again');
}
