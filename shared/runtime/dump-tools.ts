import { openSnapshot } from '../adapters/postgres/snapshot';
import { spawnPgDump, spawnPgDumpall, toolVersion } from '../adapters/postgres/tools';
import type { DumpTools } from '../usecases/dump-tools';

/** The real PostgreSQL client tools behind the DumpTools port. */
export const pgDumpTools: DumpTools = { openSnapshot, spawnPgDump, spawnPgDumpall, toolVersion };
