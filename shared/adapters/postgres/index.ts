/** The PostgreSQL adapter: snapshots, client tools, local clusters, demo data. */
export type { PgConnection, TableRef, TableCount, ToolStream } from '../../ports/postgres';
export { openSnapshot } from './snapshot';
export type { SnapshotSession } from '../../ports/postgres';
export { spawnPgDump, spawnPgDumpall, toolVersion, exportCsv } from './tools';
export type { PgDumpOptions } from './tools';
export { LocalCluster } from './cluster';
export type { LocalClusterOptions } from './cluster';
export { seedSampleData, sampleRowCounts } from './sample-data';
export { mapPgError, mapToolFailure } from './errors';
export { connectClient } from './client';
export { toolEnv } from './tool-stream';
