/**
 * Where a restore drill restores: a throwaway PostgreSQL started for the drill (the default), or
 * a database of our own naming on a configured scratch server. Either way it is never production,
 * and it is removed after the drill whatever happened.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgConnection } from '../../ports/postgres';
import { redactConnection } from '../../domain/connection';
import { derivedName } from '../../domain/restore-plan';
import type { RestoreServer } from '../../ports/restore';

/** A PostgreSQL server that exists for one drill only. */
export interface ThrowawayServer {
  /** The superuser's connection to `database` over 127.0.0.1 (with its password). */
  connection(database?: string): PgConnection;
  /** Stops the server and deletes its data folder. @throws a StrongboxError when it cannot be stopped. */
  destroy(): Promise<void>;
}

/** What the drill asks of a throwaway server. */
export interface ThrowawayOptions {
  /** An absent folder whose parents the server's OS user can traverse. */
  dataDir: string;
  /** Random per drill: the server listens on TCP, so it is never left open to local users. */
  superuserPassword: string;
  /**
   * No fsync (initdb -N, fsync=off). Acceptable here: the data is thrown away after the
   * check, and an OS crash would fail the drill anyway. It makes the measured RTO a little
   * optimistic compared with a production server that syncs.
   */
  fastTestMode: boolean;
}

/**
 * Starts a throwaway server (the port; shared/runtime/validate-tools.ts binds LocalCluster).
 *
 * @throws a StrongboxError (LOCAL_CLUSTER_FAILED) with a hint when it cannot start.
 */
export type StartThrowaway = (options: ThrowawayOptions) => Promise<ThrowawayServer>;

/** A place to restore into, ready for runRestore. */
export interface Scratch {
  /** runRestore's target: the database to create there. */
  target: PgConnection;
  /** For reports and logs: `a throwaway PostgreSQL`, or the scratch database without password. */
  label: string;
  /** The throwaway server's data folder (absent for a scratch server). */
  dataDir?: string;
  /** Throws the scratch away. Never throws: returns what could not be removed, for the report. */
  remove(): Promise<string | undefined>;
}

/** Scratch databases on a configured server are named `<database>_strongbox_drill`. */
export const DRILL_SUFFIX = '_strongbox_drill';

/**
 * Starts a throwaway server in a new `strongbox-validate-*` folder under `base` and names
 * `database` as the target (it does not exist there yet). The folder is removed when the
 * server cannot start.
 *
 * @throws what `start` throws; LOCAL_CLUSTER_FAILED-like errors from the file system.
 */
export async function throwawayScratch(start: StartThrowaway, base: string, database: string): Promise<Scratch> {
  const folder = await mkdtemp(join(base, 'strongbox-validate-'));
  try {
    // As root the server runs as the postgres OS user: it must traverse the folder to its data.
    await chmod(folder, 0o755);
    const dataDir = join(folder, 'data');
    const server = await start({ dataDir, superuserPassword: randomBytes(24).toString('base64url'), fastTestMode: true });
    return {
      target: server.connection(database),
      label: 'a throwaway PostgreSQL',
      dataDir,
      async remove() {
        try {
          await server.destroy();
        } catch (error) {
          // Its files stay, so that `pg_ctl -D <dataDir> stop` can still find the server.
          return `the throwaway PostgreSQL in ${dataDir} could not be stopped (${error instanceof Error ? error.message : String(error)}): stop it with pg_ctl -D ${dataDir} stop, then delete ${folder}`;
        }
        await rm(folder, { recursive: true, force: true }).catch(() => undefined);
        return undefined;
      },
    };
  } catch (error) {
    await rm(folder, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Names `<database>_strongbox_drill` on a configured scratch server as the target, after
 * proving the server reachable (so that an unreachable server fails the setup, not the
 * backup). A leftover of a killed drill under that name is dropped by the restore itself.
 *
 * @throws DatabaseConnectionError when the scratch server cannot be reached.
 */
export async function serverScratch(openServer: (target: PgConnection) => Promise<RestoreServer>, scratch: PgConnection, database: string): Promise<Scratch> {
  const target = { ...scratch, database: derivedName(database, DRILL_SUFFIX, '') };
  await (await openServer(target)).close();
  return {
    target,
    label: redactConnection(target),
    async remove() {
      try {
        const server = await openServer(target);
        try {
          await server.dropDatabase(target.database);
        } finally {
          await server.close();
        }
        return undefined;
      } catch (error) {
        return `the scratch database "${target.database}" on ${redactConnection(target)} could not be dropped (${error instanceof Error ? error.message : String(error)}): the next drill drops it`;
      }
    },
  };
}
