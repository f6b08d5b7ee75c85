import { openSnapshot } from '../adapters/postgres/snapshot';
import { readTableSizes } from '../adapters/postgres/table-sizes';
import { spawnPgDump, spawnPgDumpall, toolVersion } from '../adapters/postgres/tools';
import type { DumpTools } from '../usecases/dump-tools';

/** The real PostgreSQL client tools behind the DumpTools port. */
export const pgDumpTools: DumpTools = { openSnapshot, spawnPgDump, spawnPgDumpall, toolVersion, tableSizes: readTableSizes };
