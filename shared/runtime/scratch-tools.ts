import { freePort } from '../adapters/postgres/cluster';
import { prepareEmptyDataDir, unpackBaseBackup, writeRecoveryConfig } from '../adapters/postgres/recovery';
import { destroyScratch, prepareSocketDir, promoteScratch, restrictToSocket, resumeTo, scratchSettings, serverBinDir, startPaused } from '../adapters/postgres/scratch-server';
import { runAmcheck } from '../adapters/postgres/amcheck';
import { committedAmong, readRecoveredTables } from '../adapters/postgres/drill-read';
import type { DrillReader } from '../usecases/pitr-drill';
import type { ScratchServer } from '../ports/scratch';
import type { ScratchRecoveryTools } from '../ports/restore-table-as-of';
import { openRecoveredCluster } from '../adapters/postgres/table-recovered';

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
  serverBinDir,
};

/** The PostgreSQL reads of a physical drill. */
export const pgDrillReader: DrillReader = { readRecoveredTables, committedAmong, runAmcheck: (conn) => runAmcheck(conn) };

/** The scratch recovery of a table restore as of a moment, on this machine's PostgreSQL binaries. */
export const pgScratchRecovery: ScratchRecoveryTools = { server: pgScratchServer, open: openRecoveredCluster };
