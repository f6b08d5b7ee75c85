import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { Catalog } from '../ports/catalog';
import type { PgConnection } from '../ports/postgres';
import type { Storage } from '../ports/storage';
import { redactConnection } from '../domain/connection';
import { planRestore, type RestorePlan } from '../domain/restore-plan';
import { asStrongboxError, ConflictError, StrongboxError } from '../errors';
import { phaseTimer, seconds } from './phase-timer';
import type { AlertPublisher, Clock, Log } from '../ports';
import { readManifest } from './index-manifest';
import { downloadGlobals, fetchDump, makeTempFolder } from './restore/download';
import { restoreStreamed, streamsDump } from './restore/stream';
import { howRead, restoreParts } from './restore/parts';
import { hasParts } from '../domain/manifest-parts';
import { assertManifestFits, checkArchive, dropLeftovers, withOutcome } from './restore/steps';
import { markBackupDamaged, provesDamage } from './backup-damaged';
import type { AfterCommandRunner, RestoreServer, RestoreTools } from '../ports/restore';
import { applyGlobals, runAfter } from './restore/extras';
import type { RestorePhase, RestoreProgress, RestoreReport } from './restore/report';
import { readingColdAware } from './restore/cold';
import { restoreCandidates } from './restore/candidates';
import { assertCountsMatch } from './restore/verify';

export type { RestorePlan } from '../domain/restore-plan';

export interface RestoreDeps {
  storage: Storage;
  catalog: Catalog;
  /** Told when a backup turns out damaged at restore time. */
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  /** pg_restore and zstd. */
  restoreTools: RestoreTools;
  /** Opens the session on the target server. */
  openServer: (target: PgConnection) => Promise<RestoreServer>;
  /** Where the temporary folder goes (default: os.tmpdir()). */
  tmpDir?: string;
  /** Runs the post-restore command (needed only for requests with `after`). */
  runAfter?: AfterCommandRunner;
}

export type { RestorePhase, RestoreProgress, RestoreReport } from './restore/report';

export interface RestoreRequest {
  /** A backup id, or `latest` (the newest VERIFIED full logical backup of `database`). */
  backupId: string;
  /** Strongbox's name of the backed-up database (default: the target database's name). */
  database?: string;
  /** The database to replace; `target.database` need not exist. */
  target: PgConnection;
  jobs: number;
  dropFirst: boolean;
  force: boolean;
  /** Apply the backup's globals (roles, tablespaces) to the server first. */
  globals?: boolean;
  /** A shell command to run once the restored database is in place, e.g. `npx prisma migrate deploy`. */
  after?: string;
  /** Where the post-restore command's output goes (default: nowhere but the report's tail). */
  echoAfter?: (chunk: string) => void;
  signal?: AbortSignal;
  onProgress?: (progress: RestoreProgress) => void;
  /**
   * When the plan shown to the operator was made (resolveRestorePlan at this time): the
   * restore uses the databases it named, not names stamped when the operator confirmed.
   */
  plannedAt?: Date;
}


/**
 * The plan of a restore, from the catalog (no connection to the target): what `--dry-run` prints.
 *
 * @throws what planRestore throws; CatalogError when the catalog cannot be read.
 */
export async function resolveRestorePlan(
  deps: Pick<RestoreDeps, 'catalog' | 'clock'> & Partial<Pick<RestoreDeps, 'storage' | 'restoreTools'>>,
  request: Omit<RestoreRequest, 'signal' | 'onProgress'>,
): Promise<RestorePlan> {
  const database = request.database ?? request.target.database;
  return planRestore({
    streamed: streamsDump(deps.storage, deps.restoreTools, request.jobs),
    entries: await restoreCandidates(deps.catalog, request.backupId, database),
    backupId: request.backupId,
    ...(request.database !== undefined ? { database: request.database } : {}),
    target: { database: request.target.database, redacted: redactConnection(request.target) },
    now: deps.clock(),
    force: request.force,
    dropFirst: request.dropFirst,
    jobs: request.jobs,
    ...(request.globals ? { globals: true } : {}),
    ...(request.after !== undefined ? { after: request.after } : {}),
  });
}

/**
 * A full logical restore: plan from the catalog; on the target server take the restore lock
 * and drop leftover scratch databases of killed runs; download the dump once into a private
 * temporary file (always removed) and check its SHA-256 against the manifest; check the
 * archive's table of contents; restore into a scratch database (or, with dropFirst, drop the
 * target and restore into it); verify every manifest table and row count; only then swap the
 * scratch database in, keeping the old one as `<target>_before_restore_<ts>`.
 *
 * On any failure before the swap the scratch database is dropped and the target is left as it
 * was (with dropFirst, once dropped, it is gone); a checksum mismatch also marks the backup
 * FAILED and publishes an alert. Globals (roles, tablespaces) are not restored.
 *
 * @throws InputError / BackupNotFoundError / BACKUP_NOT_FOUND from the plan; DatabaseConnectionError
 *   when the target server cannot be reached (nothing is created); ConflictError when another
 *   restore into the same target runs; ChecksumMismatchError, ManifestError, ARCHIVE_INVALID,
 *   RESTORE_VERIFICATION_FAILED, DumpError (pg_restore), INTERRUPTED — each with a hint that
 *   says what became of the target.
 */
export async function runRestore(deps: RestoreDeps, request: RestoreRequest): Promise<RestoreReport> {
  const started = performance.now();
  const { steps, timed } = phaseTimer<RestorePhase>(request.onProgress);
  const plannedAt = request.plannedAt;
  let plan = await timed('plan', () => resolveRestorePlan(plannedAt ? { ...deps, clock: () => plannedAt } : deps, request));
  const target = plan.target.database;
  const at = { backupId: plan.backup.id, database: plan.database, target: plan.target.redacted };
  deps.log.info('restore planned', { ...at, restoreInto: plan.restoreInto, keptAs: plan.keptAs ?? null, dropFirst: plan.dropFirst, jobs: plan.jobs, globals: Boolean(plan.globals), after: Boolean(plan.after) });
  for (const warning of plan.warnings) deps.log.warn(warning, at);
  if (plan.after && !deps.runAfter) throw new StrongboxError('CONFIG_INVALID', 'this runtime cannot run a post-restore command', 'run the restore from the CLI, or leave out --after');
  request.signal?.throwIfAborted();
  const warnings = [...plan.warnings];

  const server = await deps.openServer(request.target);
  try {
    if (!(await server.lock(target))) {
      throw new ConflictError(`another restore into "${target}" is running on ${plan.target.redacted}`, 'wait for it to finish; if its process died, its session ends and the lock with it');
    }
    // Names are stamped to the second: right after another restore into this target, the
    // name to keep the old database under may be taken. The next second's names are free.
    if (plan.keptAs && (await server.localeOf(plan.keptAs))) {
      const taken = plan.keptAs;
      await sleep(1_000 - (deps.clock().getTime() % 1_000));
      plan = await resolveRestorePlan(deps, { ...request, backupId: plan.backup.id, database: plan.database });
      // Only a name shown in a plan is worth a warning; otherwise nobody expected another one.
      if (plannedAt) {
        const changed = `"${taken}" exists already: the previous database is kept as "${plan.keptAs}" instead, and the restore goes into "${plan.restoreInto}"`;
        warnings.push(changed);
        deps.log.warn(changed, at);
      }
    }
    const droppedLeftovers = await timed('cleanup', () => dropLeftovers(deps.log, server, plan));
    const folder = await makeTempFolder(deps.tmpDir ?? tmpdir());
    const early = new AbortController();
    const restoreSignal = request.signal ? AbortSignal.any([request.signal, early.signal]) : early.signal;
    let verified: Promise<void> = Promise.resolve();
    let scratchCreated = false;
    let targetDropped = false;
    try {
      const manifest = await readManifest(deps.storage, plan.backup.manifestKey);
      assertManifestFits(manifest, plan);
      const tools = deps.restoreTools;
      // A backup in cold storage: its retrieval is started, and the error says when to come back.
      const coldAware = <T>(read: () => Promise<T>): Promise<T> => readingColdAware(deps.storage, plan.backup.id, deps.clock(), read);
      // One job from remote storage: the dump streams into pg_restore (one transaction), no
      // local copy, its SHA-256 checked before pg_restore may read its end (restore/stream.ts).
      // A parallel backup's parts always stream, each through its own gate (restore/parts.ts).
      const parts = hasParts(manifest);
      const streamed = plan.streamed === true || parts;
      if (parts && !tools.restoreStream) throw new StrongboxError('CONFIG_INVALID', `backup ${plan.backup.id} is stored as parts, which this runtime cannot stream`, 'restore it with the CLI or the restore task');
      deps.log.info('restore reads the dump', { ...at, ...howRead(manifest, streamed), compression: manifest.compression });
      let file = '';
      if (!streamed) {
        // From the repository folder the dump is hard-linked and its SHA-256 checked beside the
        // restore into the scratch database; nothing else is touched before the check passed.
        const fetched = await timed('download', () =>
          coldAware(() => fetchDump({
            storage: deps.storage,
            tools,
            manifest,
            folder: folder.path,
            // With --drop-first the target goes before the restore: the check must come first.
            early: !plan.dropFirst,
            ...(request.signal ? { signal: request.signal } : {}),
            onBytes: (bytes, totalBytes) => request.onProgress?.({ phase: 'download', bytes, totalBytes }),
            onDecompress: () => request.onProgress?.({ phase: 'decompress' }),
          })),
        );
        file = fetched.file;
        verified = fetched.verified.then(
          () => deps.log.info('restore dump verified', { ...at, sha256: manifest.objects.dump.sha256, bytes: manifest.objects.dump.bytes }),
          (error: unknown) => {
            early.abort(error);
            throw error;
          },
        );
        verified.catch(() => undefined); // awaited below; a mismatch meanwhile stops pg_restore through `early`
        await timed('check', () => checkArchive(tools, file, plan, restoreSignal));
      }
      let globals: RestoreReport['globals'];
      if (plan.globals) {
        // A streamed dump is checked as it is restored; the globals have their own check.
        await verified;
        if (manifest.objects.globals?.includesRolePasswords === false) {
          warnings.push('the backup\'s globals hold no role passwords: roles created from them cannot log in until you set their passwords (ALTER ROLE … PASSWORD)');
        }
        const script = await coldAware(() => downloadGlobals(deps.storage, manifest, folder.path, request.signal));
        globals = await timed('globals', () => applyGlobals(tools, request.target, script, request.signal));
        deps.log.info('restore globals applied', { ...at, existing: globals.existing.length });
      }
      const locale = await server.localeOf(target);
      if (plan.dropFirst && locale) {
        await verified;
        await timed('drop-target', () => server.dropDatabase(target));
        targetDropped = true;
        deps.log.warn('target database dropped before the restore (--drop-first)', at);
      }
      await timed('restore', async () => {
        await server.createDatabase(plan.restoreInto, locale);
        scratchCreated = true;
        const into = { ...request.target, database: plan.restoreInto };
        if (!streamed) return tools.restoreArchive(into, file, { jobs: plan.jobs, signal: restoreSignal });
        await (parts ? restoreParts : restoreStreamed)({
          storage: deps.storage,
          tools: { restoreStream: tools.restoreStream!.bind(tools) },
          manifest,
          into,
          signal: restoreSignal,
          reading: coldAware,
          onBytes: (bytes, totalBytes) => request.onProgress?.({ phase: 'restore', bytes, totalBytes }),
          // A parallel backup's index builds with the restore's jobs (its post-data part is DDL only).
          postData: { jobs: plan.jobs, folder: folder.path, tools },
        });
        deps.log.info('restore dump verified', { ...at, sha256: manifest.objects.dump.sha256, ...howRead(manifest, true) });
      });
      await timed('verify', async () => {
        await verified;
        assertCountsMatch(manifest, await server.countRows(plan.restoreInto, manifest.tables), plan.restoreInto);
      });
      request.signal?.throwIfAborted();
      let keptAs: string | null = null;
      if (!plan.dropFirst) {
        await timed('swap', async () => {
          if (locale && plan.keptAs) {
            await server.swap(target, plan.restoreInto, plan.keptAs);
            keptAs = plan.keptAs;
          } else {
            await server.renameDatabase(plan.restoreInto, target);
          }
        });
      }
      const after = plan.after && deps.runAfter ? await timed('after', () => runAfter(deps.runAfter!, plan.after!, request, deps.log, at)) : undefined;
      const report: RestoreReport = {
        ...at,
        keptAs,
        tables: manifest.tables.length,
        rows: manifest.tables.reduce((sum, t) => sum + t.rows, 0),
        seconds: seconds(performance.now() - started),
        steps,
        droppedLeftovers,
        ...(globals ? { globals } : {}),
        ...(after ? { after } : {}),
        warnings,
      };
      deps.log.info('restore finished', { ...at, keptAs, tables: report.tables, rows: report.rows, seconds: report.seconds });
      return report;
    } catch (error) {
      // A checksum mismatch explains whatever it caused (pg_restore choking on the bytes, or
      // stopped by `early`), and so does a stop request. The check is waited for: nothing of
      // this restore goes on once it has returned.
      const mismatch = await verified.then(() => undefined, (checkError: unknown) => checkError);
      const reason: unknown = request.signal?.aborted ? request.signal.reason : mismatch instanceof StrongboxError ? mismatch : undefined;
      const failure = asStrongboxError(reason instanceof StrongboxError ? reason : error);
      if (scratchCreated) {
        await server.dropDatabase(plan.restoreInto).catch((dropError: unknown) =>
          deps.log.error('could not drop the scratch database; the next restore drops it', { ...at, scratch: plan.restoreInto, error: String(dropError) }),
        );
      }
      if (provesDamage(failure)) await markBackupDamaged(deps, plan.backup, failure, 'at restore');
      deps.log.error('restore failed', { ...at, code: failure.code, reason: failure.message, targetDropped });
      throw withOutcome(failure, plan, { scratchCreated, targetDropped });
    } finally {
      await folder.remove();
    }
  } finally {
    await server.close();
  }
}
