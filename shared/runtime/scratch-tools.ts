import { freePort } from '../adapters/postgres/cluster';
import { prepareEmptyDataDir, unpackBaseBackup, writeRecoveryConfig } from '../adapters/postgres/recovery';
import { destroyScratch, prepareSocketDir, promoteScratch, restrictToSocket, resumeTo, scratchSettings, startPaused } from '../adapters/postgres/scratch-server';
import type { ScratchServer } from '../usecases/scratch-recovery';

/** The machine's PostgreSQL binaries behind a scratch recovery's server port. */
export const pgScratchServer: ScratchServer = {
  prepareEmptyDataDir,
  unpackBaseBackup,
  writeRecoveryConfig,
  prepareSocketDir,
  restrictToSocket,
  scratchSettings,
  startPaused,
  resumeTo,
  promoteScratch: (conn) => promoteScratch(conn),
  destroyScratch,
  freePort,
};
