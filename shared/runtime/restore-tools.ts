import { openRestoreServer } from '../adapters/postgres/restore-server';
import { pgRestoreTools } from '../adapters/postgres/restore-tools';
import type { RestoreDeps } from '../usecases/restore';

/** The real pg_restore, zstd and target-server session behind the restore's ports. */
export const pgRestoreDeps: Pick<RestoreDeps, 'restoreTools' | 'openServer'> = { restoreTools: pgRestoreTools, openServer: openRestoreServer };
