import { openRestoreServer } from '../adapters/postgres/restore-server';
import { pgRestoreTools } from '../adapters/postgres/restore-tools';
import { runAfterCommand } from '../adapters/shell/after-command';
import type { RestoreDeps } from '../usecases/restore';

/** The real pg_restore, zstd and target-server session behind the restore's ports. */
export const pgRestoreDeps: Pick<RestoreDeps, 'restoreTools' | 'openServer' | 'runAfter'> = { restoreTools: pgRestoreTools, openServer: openRestoreServer, runAfter: runAfterCommand };
