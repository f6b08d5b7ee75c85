/** The real PostgreSQL adapters behind a table restore's ports, in one object to spread into its deps. */
import type { RestoreTableDeps } from '../../usecases/restore-table';
import { openRestoreServer } from './restore-server';
import { pgRestoreTools } from './restore-tools';
import { pgTableCopier } from './table-copy';
import { pgTableRestoreTools } from './table-restore-tools';

/** pg_restore, zstd, the target server's maintenance session and the target database's side. */
export const pgRestoreTableDeps: Pick<RestoreTableDeps, 'restoreTools' | 'tableTools' | 'copier' | 'openServer'> = {
  restoreTools: pgRestoreTools,
  tableTools: pgTableRestoreTools,
  copier: pgTableCopier,
  openServer: openRestoreServer,
};
