/** The real PostgreSQL adapters behind a table restore's ports, in one object to spread into its deps. */
import type { RestoreTableDeps } from '../usecases/restore-table';
import { openRestoreServer } from '../adapters/postgres/restore-server';
import { pgRestoreTools } from '../adapters/postgres/restore-tools';
import { pgTableCopier } from '../adapters/postgres/table-copy';
import { pgTableRestoreTools } from '../adapters/postgres/table-restore-tools';

/** pg_restore, zstd, the target server's maintenance session and the target database's side. */
export const pgRestoreTableDeps: Pick<RestoreTableDeps, 'restoreTools' | 'tableTools' | 'copier' | 'openServer'> = {
  restoreTools: pgRestoreTools,
  tableTools: pgTableRestoreTools,
  copier: pgTableCopier,
  openServer: openRestoreServer,
};
