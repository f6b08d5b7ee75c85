/**
 * What a table restore as of a moment needs from the scratch cluster it recovers in the task
 * (implementation: shared/adapters/postgres/table-recovered.ts; tests may wrap it).
 */
import type { PgConnection, TableRef } from './postgres';
import type { ScratchServer } from './scratch';
import type { RestoredCount } from './restore';

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

/** The scratch recovery's server side (scratch-recovery.ts) and the reads of the recovered cluster. */
export interface ScratchRecoveryTools {
  server: ScratchServer;
  /**
   * Opens the recovered cluster as its bootstrap superuser (found through `connection`, which
   * logs in as the role the recovery asked with). @throws RECOVERY_FAILED when it cannot log in.
   */
  open(connection: (database: string) => PgConnection): Promise<RecoveredCluster>;
}
