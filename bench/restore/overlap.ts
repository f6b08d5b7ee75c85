/**
 * A prototype measured beside the real restore (`--prototype`), NOT Strongbox's code path: a
 * restore from the repository folder that neither copies the dump nor waits for its SHA-256,
 * and counts rows on `jobs` sessions at once. pg_restore reads the stored file itself while
 * the file is hashed in place; the swap happens only once both ended well, and a mismatch
 * stops pg_restore and drops the scratch database, so the target is still untouched by a
 * damaged dump. Otherwise built from the same ports and steps as runRestore (plan, lock,
 * leftovers, archive check, scratch database, swap), so the difference measured is the
 * download and the counting.
 */
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connectClient } from '../../shared/adapters/postgres/client';
import type { PgConnection, TableRef } from '../../shared/ports/postgres';
import { HashingStream } from '../../shared/domain/hashing-stream';
import { quoteTable } from '../../shared/domain/table-pattern';
import { ChecksumMismatchError } from '../../shared/errors';
import type { RestoredCount } from '../../shared/ports/restore';
import { readManifest } from '../../shared/usecases/index-manifest';
import { resolveRestorePlan, type RestoreDeps } from '../../shared/usecases/restore';
import { checkArchive, dropLeftovers } from '../../shared/usecases/restore/steps';
import { assertCountsMatch } from '../../shared/usecases/restore/verify';
import { BENCH_DATABASE } from '../dataset';
import type { RestoreSource } from './fixture';
import type { RestoreRun } from './variants';

/** The hash reads 1 MiB at a time, as FolderStorage.get does. */
const READ_BYTES = 1 << 20;

/** What the prototype restores, and into what. */
export interface OverlapRequest {
  source: RestoreSource;
  /** The dump object's file in the repository folder. */
  dumpPath: string;
  /** The target database (it must exist: the swap keeps it). */
  target: PgConnection;
  jobs: number;
  signal: AbortSignal;
}

/**
 * Runs the prototype once and returns its wall time and phases: `restore` is the hash and the
 * archive check, scratch database and pg_restore side by side; `hash` the hash's own time, within it.
 *
 * @throws ChecksumMismatchError when the stored file does not match the manifest (the scratch
 *   database is dropped); whatever the ports throw.
 */
export async function overlappedFolderRestore(deps: RestoreDeps, request: OverlapRequest): Promise<RestoreRun> {
  const started = performance.now();
  const phases: RestoreRun['phases'] = {};
  const time = async <T>(name: keyof RestoreRun['phases'], fn: () => Promise<T>): Promise<T> => {
    const from = performance.now();
    try {
      return await fn();
    } finally {
      phases[name] = performance.now() - from;
    }
  };
  const plan = await time('plan', () =>
    resolveRestorePlan(deps, { backupId: request.source.backup.id, database: BENCH_DATABASE, target: request.target, jobs: request.jobs, dropFirst: false, force: false }),
  );
  const target = plan.target.database;
  if (!plan.keptAs) throw new Error('the prototype needs a plan that keeps the target');
  const server = await deps.openServer(request.target);
  let scratchCreated = false;
  let hashMs = NaN;
  try {
    await time('cleanup', async () => {
      if (!(await server.lock(target))) throw new Error(`another restore into ${target} holds the lock`);
      await dropLeftovers(deps.log, server, plan);
    });
    const manifest = await readManifest(deps.storage, plan.backup.manifestKey);
    const declared = manifest.objects.dump;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(request.signal.reason);
    request.signal.addEventListener('abort', onAbort, { once: true });
    try {
      // Whichever side fails stops the other; the first failure is the one reported.
      let firstFailure: { error: unknown } | undefined;
      const failFast = (work: Promise<void>) => work.catch((error: unknown) => {
        firstFailure ??= { error };
        stop.abort(error);
        throw error;
      });
      const settled = await time('restore', () =>
        Promise.allSettled([
          failFast((async () => {
            const from = performance.now();
            const hasher = new HashingStream();
            await pipeline(createReadStream(request.dumpPath, { highWaterMark: READ_BYTES }), hasher, new Writable({ write: (_chunk, _encoding, done) => done() }), { signal: stop.signal });
            hashMs = performance.now() - from;
            const actual = hasher.digest();
            if (actual.sha256 !== declared.sha256 || actual.bytes !== declared.bytes) {
              const mismatch = new ChecksumMismatchError(declared.key, `${declared.sha256} (${declared.bytes} bytes)`, `${actual.sha256} (${actual.bytes} bytes)`);
              throw mismatch;
            }
          })()),
          failFast((async () => {
            await checkArchive(deps.restoreTools, request.dumpPath, plan, stop.signal);
            const locale = await server.localeOf(target);
            await server.createDatabase(plan.restoreInto, locale);
            scratchCreated = true;
            await deps.restoreTools.restoreArchive({ ...request.target, database: plan.restoreInto }, request.dumpPath, { jobs: plan.jobs, signal: stop.signal });
          })()),
        ]),
      );
      if (settled.some((result) => result.status === 'rejected')) throw firstFailure?.error;
    } finally {
      request.signal.removeEventListener('abort', onAbort);
    }
    await time('verify', async () => assertCountsMatch(manifest, await countInParallel({ ...request.target, database: plan.restoreInto }, manifest.tables, plan.jobs), plan.restoreInto));
    await time('swap', () => server.swap(target, plan.restoreInto, plan.keptAs as string));
    scratchCreated = false;
  } catch (error) {
    if (scratchCreated) await server.dropDatabase(plan.restoreInto).catch(() => undefined);
    throw error;
  } finally {
    await server.close();
  }
  const ms = performance.now() - started;
  phases.other = ms - Object.values(phases).reduce((sum, value) => sum + (value ?? 0), 0);
  phases.hash = hashMs;
  return { ms, phases };
}

/**
 * `count(*) FROM ONLY` every table on up to `sessions` connections at once (a missing table
 * fails its query: the prototype does not tell it apart).
 */
async function countInParallel(conn: PgConnection, tables: readonly TableRef[], sessions: number): Promise<RestoredCount[]> {
  const queue = tables.map((table, index) => ({ table, index }));
  const counts: RestoredCount[] = tables.map((table) => ({ ...table, rows: undefined }));
  await Promise.all(
    Array.from({ length: Math.min(sessions, tables.length) }, async () => {
      const client = await connectClient(conn);
      try {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const result = await client.query<{ rows: string }>(`SELECT count(*)::text AS rows FROM ONLY ${quoteTable(next.table)}`);
          counts[next.index] = { ...next.table, rows: Number(result.rows[0]?.rows ?? NaN) };
        }
      } finally {
        await client.end().catch(() => undefined);
      }
    }),
  );
  return counts;
}
