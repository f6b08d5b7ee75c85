/**
 * What a table restore as of a moment needs from the scratch cluster it recovers in the task
 * (implementation: shared/adapters/postgres/table-recovered.ts; tests may wrap it).
 */
import type { PgConnection, TableRef } from '../../adapters/postgres/types';
import type { RecoveryServer } from '../pitr';
import type { RestoredCount } from '../restore/ports';

/** The promoted scratch cluster, reachable by this process only. */
export interface RecoveredCluster {
  /** How to reach `database` in it (its socket, its superuser). */
  connection(database: string): PgConnection;
  /** The user tables of `database` that hold rows, in schema/name order. */
  tables(database: string): Promise<TableRef[]>;
  /** Exact row counts of `tables` in `database`. */
  countRows(database: string, tables: TableRef[]): Promise<RestoredCount[]>;
  /** `pg_dump -Fc` of `database` into `file`, without the rows of the `excludeData` patterns. @throws DumpError */
  dump(database: string, file: string, excludeData: string[], signal?: AbortSignal): Promise<void>;
}

/** The server side of the scratch recovery. */
export interface ScratchRecoveryTools extends RecoveryServer {
  /** RecoveryServer's, with the server's bin folder (serverBinDir) and a role besides `postgres` to ask the server as (the target's user). */
  startAndAwaitPromotion(options: { dataDir: string; port: number; timeoutMs: number; binDir?: string; user?: string }): ReturnType<RecoveryServer['startAndAwaitPromotion']>;
  /**
   * Called on the unpacked, configured data directory before it starts: makes it reachable by
   * this process alone and returns settings to append (they override the recovery's).
   */
  lockDown(dataDir: string): Promise<Record<string, string>>;
  /** Opens the promoted cluster. @throws RECOVERY_FAILED when it cannot be logged in to. */
  open(options: { dataDir: string; socketDir: string; port: number; fallbackUser: string }): Promise<RecoveredCluster>;
  /**
   * The bin folder of the server that must run a cluster recovered from a base backup of
   * PostgreSQL `major` (exactly that major).
   *
   * @throws StrongboxError PG_VERSION_MISMATCH when it is not installed (shared/domain/pg-majors.ts).
   */
  serverBinDir(major: number | undefined): Promise<string>;
  /** Stops the scratch cluster in `dataDir` if it runs (immediately) and removes the folder. Never throws for a cluster that is not running. */
  discard(dataDir: string, binDir?: string): Promise<void>;
  /** A free port number (the socket's name; the scratch cluster listens on no TCP address). */
  freePort(): Promise<number>;
}
