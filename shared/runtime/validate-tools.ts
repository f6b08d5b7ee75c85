import { LocalCluster } from '../adapters/postgres/cluster';
import type { ValidationDeps } from '../usecases/validate';
import { pgRestoreDeps } from './restore-tools';

/** The real pg_restore, zstd, target-server session and throwaway PostgreSQL behind a restore drill's ports. */
export const pgValidationDeps: Pick<ValidationDeps, 'restoreTools' | 'openServer' | 'startCluster'> = {
  ...pgRestoreDeps,
  startCluster: (options) => LocalCluster.create(options),
};
