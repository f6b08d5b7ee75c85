import type { SnapshotSession } from '../ports/postgres';
import type { PgConnection, ToolStream } from '../ports/postgres';
import type { Compression } from '../domain/backup';
import type { SizedTable } from '../domain/dump-groups';
import type { TableRef } from '../ports/postgres';

export type { SnapshotSession };

/**
 * What a logical backup needs from PostgreSQL's client side; the real implementation is
 * shared/adapters/postgres, tests may wrap it to inject faults.
 */
export interface DumpTools {
  openSnapshot(conn: PgConnection, options: { tablePatterns?: string[]; lockWaitSeconds?: number }): Promise<SnapshotSession>;
  spawnPgDump(
    conn: PgConnection,
    options: {
      snapshotId?: string;
      tablePatterns?: string[];
      compression: Compression;
      signal?: AbortSignal;
      lockWaitSeconds?: number;
      /** One section (a part of a parallel backup); `schema`: every definition, `--schema-only`. */
      section?: 'pre-data' | 'data' | 'post-data' | 'schema';
      /** `--exclude-table-data` patterns (the rest part of a parallel backup). */
      excludeTableData?: string[];
    },
  ): ToolStream;
  /** Each table's size on disk, to balance a parallel backup's parts; absent: they are spread by count. */
  tableSizes?(conn: PgConnection, tables: readonly TableRef[], options: { lockWaitSeconds?: number }): Promise<SizedTable[]>;
  spawnPgDumpall(conn: PgConnection, options: { includeRolePasswords: boolean; signal?: AbortSignal }): ToolStream;
  toolVersion(tool: 'pg_dump' | 'pg_restore' | 'pg_dumpall'): Promise<string>;
}
