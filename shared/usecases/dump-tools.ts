import type { SnapshotSession } from '../ports/postgres';
import type { PgConnection, ToolStream } from '../ports/postgres';
import type { Compression } from '../domain/backup';

export type { SnapshotSession };

/**
 * What a logical backup needs from PostgreSQL's client side; the real implementation is
 * shared/adapters/postgres, tests may wrap it to inject faults.
 */
export interface DumpTools {
  openSnapshot(conn: PgConnection, options: { tablePatterns?: string[]; lockWaitSeconds?: number }): Promise<SnapshotSession>;
  spawnPgDump(
    conn: PgConnection,
    options: { snapshotId?: string; tablePatterns?: string[]; compression: Compression; signal?: AbortSignal; lockWaitSeconds?: number },
  ): ToolStream;
  spawnPgDumpall(conn: PgConnection, options: { includeRolePasswords: boolean; signal?: AbortSignal }): ToolStream;
  toolVersion(tool: 'pg_dump' | 'pg_restore' | 'pg_dumpall'): Promise<string>;
}
