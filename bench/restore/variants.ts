/**
 * The four things the restore benchmark times: Strongbox's runRestore (real pg_restore, real
 * target-server session) from the repository folder and from s3rver, and what an operator
 * would do by hand with the same dump file: `createdb` + `pg_restore -j2`, after a plain
 * GetObject to a file for S3. Each run leaves the server as it found it (untimed).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import type { PgConnection } from '../../shared/ports/postgres';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runRestore, type RestoreDeps, type RestorePhase } from '../../shared/usecases/restore';
import { BENCH_DATABASE, type BenchDataset } from '../dataset';
import { runShell } from '../wal/shell';
import type { DatabaseAdmin } from './databases';
import type { RestoreFixture, RestoreSource } from './fixture';
import { overlappedFolderRestore } from './overlap';

/** pg_restore's parallelism in every variant. */
export const JOBS = 2;
/** The database a Strongbox restore replaces (an empty one is created before each run). */
export const STRONGBOX_TARGET = 'bench_sbx';
/** The database plain pg_restore creates. */
export const PLAIN_TARGET = 'bench_plain';

/**
 * A phase of a run: Strongbox's report steps, `other` (the rest of its wall time), a plain
 * run's download and restore, or the prototype's `hash` (overlapping its `restore`).
 */
export type PhaseName = RestorePhase | 'other' | 'hash';

/** One timed run. */
export interface RestoreRun {
  ms: number;
  /** Milliseconds per phase. */
  phases: Partial<Record<PhaseName, number>>;
}

/** One thing the benchmark times. */
export interface RestoreVariant {
  id: string;
  label: string;
  strongbox: boolean;
  /** The plain variant doing the same work. */
  baseline?: string;
  run(signal: AbortSignal): Promise<RestoreRun>;
}

/** The plain command restoring `file` into a new database, as an operator types it. */
export function plainRestoreCommand(file: string, database = PLAIN_TARGET): string {
  return `createdb --no-password ${shellQuote(database)} && pg_restore --no-owner --no-acl --no-password --jobs=${JOBS} --dbname=${shellQuote(database)} ${shellQuote(file)}`;
}

/**
 * The four variants, in the order each round runs them; with `prototype`, a fifth after the
 * folder restore: the download-free restore of overlap.ts, to measure that idea side by side.
 */
export function restoreVariants(dataset: BenchDataset, fixture: RestoreFixture, admin: DatabaseAdmin, options: { prototype?: boolean } = {}): RestoreVariant[] {
  const deps: Omit<RestoreDeps, 'storage'> = { catalog: fixture.catalog, alerts: fixture.alerts, log: fixture.log, clock: fixture.clock, ...pgRestoreDeps, tmpDir: fixture.work };
  const expectedRows = dataset.tables.reduce((sum, t) => sum + t.rows, 0);
  const strongbox = (source: RestoreSource) => (signal: AbortSignal) => strongboxRestore({ ...deps, storage: source.storage }, source, dataset.conn, admin, expectedRows, signal);
  const prototype: RestoreVariant = {
    id: 'prototype-folder',
    label: 'prototype: folder, SHA-256 in place ‖ pg_restore of the stored file, counts ‖',
    strongbox: true,
    baseline: 'plain-folder',
    run: (signal) =>
      withFreshTarget(admin, () =>
        overlappedFolderRestore({ ...deps, storage: fixture.folder.storage }, { source: fixture.folder, dumpPath: fixture.folder.dumpPath, target: { ...dataset.conn, database: STRONGBOX_TARGET }, jobs: JOBS, signal }),
      ),
  };
  return [
    {
      id: 'plain-folder',
      label: `plain \`createdb && pg_restore -j${JOBS}\` of the dump file`,
      strongbox: false,
      run: (signal) => plainRestore(dataset.conn, fixture.folder.dumpPath, admin, signal),
    },
    { id: 'strongbox-folder', label: 'Strongbox restore ← repository folder', strongbox: true, baseline: 'plain-folder', run: strongbox(fixture.folder) },
    ...(options.prototype ? [prototype] : []),
    {
      id: 'plain-s3',
      label: `plain GetObject → file, then \`createdb && pg_restore -j${JOBS}\``,
      strongbox: false,
      run: (signal) => plainS3Restore(dataset.conn, fixture, admin, signal),
    },
    { id: 'strongbox-s3', label: 'Strongbox restore ← s3rver (S3 SDK)', strongbox: true, baseline: 'plain-s3', run: strongbox(fixture.s3) },
  ];
}

/**
 * Creates an empty `bench_sbx` (untimed), then times runRestore of `source`'s backup into it:
 * the swap exercises the same path as over a live database, keeping the old one as
 * `bench_sbx_before_restore_<ts>`. Both are dropped after, with a checkpoint (untimed).
 *
 * @throws what runRestore throws; Error when the report is not the one expected.
 */
function strongboxRestore(deps: RestoreDeps, source: RestoreSource, conn: PgConnection, admin: DatabaseAdmin, expectedRows: number, signal: AbortSignal): Promise<RestoreRun> {
  return withFreshTarget(admin, async () => {
    const started = performance.now();
    const report = await runRestore(deps, {
      backupId: source.backup.id,
      database: BENCH_DATABASE,
      target: { ...conn, database: STRONGBOX_TARGET },
      jobs: JOBS,
      dropFirst: false,
      force: false,
      signal,
    });
    const ms = performance.now() - started;
    if (report.rows !== expectedRows) throw new Error(`restore of ${source.backup.id} reports ${report.rows} rows, ${expectedRows} were generated`);
    if (!report.keptAs?.startsWith(`${STRONGBOX_TARGET}_before_restore_`)) throw new Error(`restore of ${source.backup.id} kept the old database as ${String(report.keptAs)}`);
    const phases: RestoreRun['phases'] = {};
    for (const step of report.steps) phases[step.name] = (phases[step.name] ?? 0) + step.seconds * 1000;
    phases.other = ms - report.steps.reduce((sum, step) => sum + step.seconds * 1000, 0);
    return { ms, phases };
  });
}

/** Creates the empty target `bench_sbx` before `run` and drops what it leaves after (untimed). */
async function withFreshTarget<T>(admin: DatabaseAdmin, run: () => Promise<T>): Promise<T> {
  await admin.create(STRONGBOX_TARGET);
  try {
    return await run();
  } finally {
    await resetServer(admin, STRONGBOX_TARGET);
  }
}

/** Times `createdb && pg_restore -j2` of `file`; drops the database after (untimed). */
async function plainRestore(conn: PgConnection, file: string, admin: DatabaseAdmin, signal: AbortSignal): Promise<RestoreRun> {
  try {
    const { ms } = await runShell(plainRestoreCommand(file), toolEnv(conn), signal);
    return { ms, phases: { restore: ms } };
  } finally {
    await resetServer(admin, PLAIN_TARGET);
  }
}

/** Times a GetObject streamed into a file, then the plain restore of that file; the file is removed after (untimed). */
async function plainS3Restore(conn: PgConnection, fixture: RestoreFixture, admin: DatabaseAdmin, signal: AbortSignal): Promise<RestoreRun> {
  const file = join(fixture.work, 'plain.dump');
  try {
    const started = performance.now();
    await getObjectToFile(fixture.s3.client, fixture.s3.bucket, fixture.s3.manifest.objects.dump.key, file, signal);
    const download = performance.now() - started;
    const restore = await plainRestore(conn, file, admin, signal);
    return { ms: download + restore.ms, phases: { download, restore: restore.ms } };
  } finally {
    await rm(file, { force: true });
  }
}

/** The AWS SDK's GetObject, its body streamed into `file` (no checksum: what `aws s3 cp` leaves out by default too). */
export async function getObjectToFile(client: S3Client, bucket: string, key: string, file: string, signal?: AbortSignal): Promise<void> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
  if (!response.Body) throw new Error(`GetObject ${key} returned no body`);
  await pipeline(response.Body as Readable, createWriteStream(file, { mode: 0o600 }), ...(signal ? [{ signal }] : []));
}

/** Drops every database a run of `target` may leave, then checkpoints, so that runs start alike. */
async function resetServer(admin: DatabaseAdmin, target: string): Promise<void> {
  await admin.dropStartingWith([target]);
  await admin.checkpoint();
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
