import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { PgConnection } from '../adapters/postgres/types';
import { redactConnection } from '../domain/connection';
import type { Manifest } from '../domain/manifest';
import { chooseTableBackup, displayTable, planRestoreTable, type RestoreTableMode, type RestoreTablePlan } from '../domain/restore-table-plan';
import { asStrongboxError, ConflictError, DatabaseConnectionError, StrongboxError } from '../errors';
import { readManifest } from './index-manifest';
import { phaseTimer, seconds } from './phase-timer';
import { downloadDump, makeTempFolder } from './restore/download';
import type { RestoreDeps } from './restore';
import { restoreCandidates } from './restore/candidates';
import { markBackupDamaged, provesDamage } from './backup-damaged';
import { assertCountsMatch } from './restore/verify';
import { assertManifestOf, selectFromArchive } from './restore-table/archive';
import type { CopiedTable, RecreateObject, SequenceMove, SkippedObject, TableCopier, TableRestoreTools } from './restore-table/ports';
import { plannedObjects, recreateObjects, type PlannedObject } from './restore-table/recreate';
import { claimScratch, dropLeftoverScratches } from './restore-table/scratch';

export type { RestoreTablePlan, RestoreTableMode } from '../domain/restore-table-plan';

/** How long the move waits for the table locks by default. */
const LOCK_TIMEOUT_MS = 30_000;

/** A full restore's deps (its download, check and target session), plus the table-level tools. */
export interface RestoreTableDeps extends Omit<RestoreDeps, 'runAfter'> {
  /** pg_restore of chosen entries. */
  tableTools: TableRestoreTools;
  /** The target database's side: checks and the transaction that moves the rows. */
  copier: TableCopier;
  /** The random part of the scratch database's name (default: 8 hex digits). */
  nonce?: () => string;
  /** How long to wait for the table locks (default 30 s). */
  lockTimeoutMs?: number;
}

/** The phases of a table restore, in order; `decompress` only for zstd. */
export type RestoreTablePhase = 'plan' | 'cleanup' | 'download' | 'decompress' | 'check' | 'scratch' | 'verify' | 'copy';

export interface RestoreTableRequest {
  /** A backup id, or `latest` (the newest VERIFIED full logical backup of `database`). */
  backupId: string;
  /** Strongbox's name of the backed-up database (default: the target database's name). */
  database?: string;
  /** The database whose table(s) receive the rows. */
  target: PgConnection;
  /** pg_dump-style table pattern: `[schema.]table`, wildcards, double quotes keep case. */
  table: string;
  mode: RestoreTableMode;
  /** Restore from a backup that is not VERIFIED (its checksum is still checked). */
  force: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: { phase: RestoreTablePhase; bytes?: number; totalBytes?: number }) => void;
}

/** One restored table in the report. */
export interface RestoredTableReport {
  /** `"schema"."name"` in the backup. */
  table: string;
  /** `"schema"."name"` that received the rows. */
  into: string;
  rowsBefore: number | null;
  rowsAfter: number;
  rowsRestored: number;
  sequences: SequenceMove[];
}

/** What a finished table restore reports (the `--json` shape). */
export interface RestoreTableReport {
  backupId: string;
  database: string;
  /** The target, without password. */
  target: string;
  mode: RestoreTableMode;
  pattern: string;
  tables: RestoredTableReport[];
  /** The scratch database used (dropped). */
  scratch: string;
  seconds: number;
  steps: Array<{ name: RestoreTablePhase; seconds: number }>;
  /** Scratch databases of killed runs dropped first. */
  droppedLeftovers: string[];
  warnings: string[];
  /** With --mode recreate: the objects recreated, in order (as `pg_restore -l` names them, without owner). */
  recreated?: string[];
  /** With --mode recreate: the objects that could not be, each with PostgreSQL's reason and its SQL. */
  skipped?: SkippedObject[];
}

type PlanRequest = Omit<RestoreTableRequest, 'signal' | 'onProgress'>;

/**
 * The plan of a table restore, from the catalog and the backup's manifest (no connection to
 * the target): what `--dry-run` prints, with the exact tables and their row counts.
 *
 * @throws what chooseTableBackup and planRestoreTable throw (BACKUP_NOT_FOUND, INPUT_INVALID,
 *   TABLE_NOT_IN_BACKUP); CatalogError; ObjectNotFoundError / ManifestError for the manifest.
 */
export async function resolveRestoreTablePlan(deps: Pick<RestoreTableDeps, 'catalog' | 'storage' | 'clock' | 'nonce'>, request: PlanRequest): Promise<RestoreTablePlan> {
  return (await resolve(deps, request)).plan;
}

/** A recreate's dry run: the plan, and the objects of the archive it would recreate. */
export interface RecreatePreview {
  plan: RestoreTablePlan;
  objects: PlannedObject[];
}

/**
 * The dry run of `--mode recreate`: the plan, and the objects it would recreate, read from the
 * backup's table of contents — so the dump is downloaded (and its checksum checked; a mismatch
 * marks the backup FAILED as a restore would) into a private temporary folder, always removed.
 * Connects to nothing but the storage: whether each optional object still fits the target is
 * known only when it runs.
 *
 * @throws what resolveRestoreTablePlan throws; CHECKSUM_MISMATCH, ARCHIVE_INVALID,
 *   TABLE_NOT_IN_BACKUP (the dump lacks a table of its manifest).
 */
export async function previewRecreate(deps: Omit<RestoreTableDeps, 'copier' | 'openServer'>, request: PlanRequest & { signal?: AbortSignal }): Promise<RecreatePreview> {
  const { plan, manifest } = await resolve(deps, request);
  assertManifestOf(manifest, plan);
  const folder = await makeTempFolder(deps.tmpDir ?? tmpdir());
  try {
    const file = await downloadDump({ storage: deps.storage, tools: deps.restoreTools, manifest, folder: folder.path, ...(request.signal ? { signal: request.signal } : {}) });
    const selection = await selectFromArchive(deps.tableTools, file, plan, request.signal);
    return { plan, objects: plannedObjects(selection.toc, selection.found) };
  } catch (error) {
    const failure = asStrongboxError(error);
    if (provesDamage(failure)) await markBackupDamaged(deps, plan.backup, failure, 'at table restore');
    throw failure;
  } finally {
    await folder.remove();
  }
}

async function resolve(deps: Pick<RestoreTableDeps, 'catalog' | 'storage' | 'clock' | 'nonce'>, request: PlanRequest): Promise<{ plan: RestoreTablePlan; manifest: Manifest }> {
  const database = request.database ?? request.target.database;
  const backup = chooseTableBackup({ entries: await restoreCandidates(deps.catalog, request.backupId, database), backupId: request.backupId, database, force: request.force });
  const manifest = await readManifest(deps.storage, backup.manifestKey);
  const plan = planRestoreTable({
    backup,
    manifestTables: manifest.tables,
    pgDatabase: manifest.source.pgDatabase,
    pattern: request.table,
    mode: request.mode,
    target: { database: request.target.database, redacted: redactConnection(request.target) },
    now: deps.clock(),
    nonce: (deps.nonce ?? randomNonce)(),
  });
  return { plan, manifest };
}

/**
 * Restores one table (or the tables a pattern selects) from a logical backup, through a
 * scratch database on the target's server: plan from the catalog and manifest; take the
 * target's restore lock and drop scratch databases of killed runs; download the dump once into
 * a private temporary file and check its SHA-256 (a mismatch marks the backup FAILED and
 * alerts); check the table of contents; check the target tables; restore the tables into the
 * scratch database and verify their row counts against the manifest; then move the rows in one
 * transaction on the target (replace, append or side-by-side). The scratch database and the
 * temporary file are always removed.
 *
 * @throws from the plan (BACKUP_NOT_FOUND, INPUT_INVALID, TABLE_NOT_IN_BACKUP); DB_* when the
 *   target cannot be reached or its database does not exist; CONFLICT when a restore into the
 *   same database runs; CHECKSUM_MISMATCH, MANIFEST_INVALID, ARCHIVE_INVALID,
 *   RESTORE_VERIFICATION_FAILED, DUMP_FAILED (pg_restore), RESTORE_TABLE_REFUSED (foreign keys,
 *   conflicts, changed tables, busy tables), INTERRUPTED — each with a hint that says the
 *   target was left as it was.
 */
export async function runRestoreTable(deps: RestoreTableDeps, request: RestoreTableRequest): Promise<RestoreTableReport> {
  const started = performance.now();
  const { steps, timed } = phaseTimer<RestoreTablePhase>(request.onProgress);
  const { plan, manifest } = await timed('plan', () => resolve(deps, request));
  const at = { backupId: plan.backup.id, database: plan.database, target: plan.target.redacted, mode: plan.mode, tables: plan.tables.map(displayTable) };
  deps.log.info('table restore planned', { ...at, scratch: plan.scratch, into: plan.tables.map((t) => displayTable(t.into)) });
  for (const warning of plan.warnings) deps.log.warn(warning, at);
  request.signal?.throwIfAborted();

  const server = await deps.openServer(request.target);
  let scratchCreated = false;
  try {
    if (!(await server.lock(plan.target.database))) {
      throw new ConflictError(`another restore into "${plan.target.database}" is running on ${plan.target.redacted}`, 'wait for it to finish; if its process died, its session ends and the lock with it');
    }
    const locale = await server.localeOf(plan.target.database);
    if (!locale) throw new DatabaseConnectionError('DB_NOT_FOUND', `database "${plan.target.database}" does not exist on ${plan.target.redacted}`, 'a table restore fills a table of an existing database: check --target-url, or run a full restore');
    await claimScratch(server, plan.scratch);
    const droppedLeftovers = await timed('cleanup', () => dropLeftoverScratches(deps.log, server, plan.scratch, plan.target.redacted));
    const folder = await makeTempFolder(deps.tmpDir ?? tmpdir());
    try {
      assertManifestOf(manifest, plan);
      const file = await timed('download', () =>
        downloadDump({
          storage: deps.storage,
          tools: deps.restoreTools,
          manifest,
          folder: folder.path,
          ...(request.signal ? { signal: request.signal } : {}),
          onBytes: (bytes, totalBytes) => request.onProgress?.({ phase: 'download', bytes, totalBytes }),
          onDecompress: () => request.onProgress?.({ phase: 'decompress' }),
        }),
      );
      deps.log.info('table restore dump verified', { ...at, sha256: manifest.objects.dump.sha256, bytes: manifest.objects.dump.bytes });
      const { selection, objects } = await timed('check', async () => {
        const chosen = await selectFromArchive(deps.tableTools, file, plan, request.signal);
        await deps.copier.preflight({ target: request.target, mode: plan.mode, tables: moves(plan) });
        const recreate = plan.mode === 'recreate' ? await recreateObjects(deps.tableTools, file, chosen.toc, chosen.found, request.signal) : [];
        return { selection: chosen, objects: recreate };
      });
      request.signal?.throwIfAborted();
      await timed('scratch', async () => {
        await server.createDatabase(plan.scratch, locale);
        scratchCreated = true;
        await deps.tableTools.restoreListed({ ...request.target, database: plan.scratch }, file, selection.list, request.signal);
      });
      await timed('verify', async () => {
        const expected = { ...manifest, tables: plan.tables.map(({ schema, name, rows }) => ({ schema, name, rows })) };
        assertCountsMatch(expected, await server.countRows(plan.scratch, plan.tables), plan.scratch);
      });
      request.signal?.throwIfAborted();
      const moved = await timed('copy', () => move(deps, request, plan, objects));
      const copied = moved.tables;
      const report: RestoreTableReport = {
        backupId: plan.backup.id,
        database: plan.database,
        target: plan.target.redacted,
        mode: plan.mode,
        pattern: plan.pattern,
        tables: copied.map(tableReport),
        scratch: plan.scratch,
        seconds: seconds(performance.now() - started),
        steps,
        droppedLeftovers,
        warnings: plan.warnings,
        ...(moved.recreated ? { recreated: moved.recreated, skipped: moved.skipped } : {}),
      };
      for (const skipped of report.skipped ?? []) deps.log.warn('object not recreated', { ...at, object: skipped.object, reason: skipped.reason });
      for (const t of report.tables) deps.log.info('table restored', { ...at, table: t.table, into: t.into, rowsBefore: t.rowsBefore, rowsAfter: t.rowsAfter, sequences: t.sequences.length });
      deps.log.info('table restore finished', { ...at, seconds: report.seconds });
      return report;
    } finally {
      await folder.remove();
    }
  } catch (error) {
    const reason: unknown = request.signal?.aborted ? request.signal.reason : undefined;
    const failure = asStrongboxError(reason instanceof StrongboxError ? reason : error);
    if (provesDamage(failure)) await markBackupDamaged(deps, plan.backup, failure, 'at table restore');
    deps.log.error('table restore failed', { ...at, code: failure.code, reason: failure.message });
    throw new StrongboxError(failure.code, failure.message, `${failure.hint}. ${outcome(plan, scratchCreated)}`, { cause: failure });
  } finally {
    if (scratchCreated) {
      await server.dropDatabase(plan.scratch).catch((dropError: unknown) =>
        deps.log.error('could not drop the scratch database; the next table restore on this server drops it', { ...at, scratch: plan.scratch, error: String(dropError) }),
      );
    }
    await server.close();
  }
}

/** The transaction on the target: the row copy of replace, append and side-by-side, or the recreate. */
async function move(deps: RestoreTableDeps, request: RestoreTableRequest, plan: RestoreTablePlan, objects: RecreateObject[]): Promise<{ tables: CopiedTable[]; recreated?: string[]; skipped?: SkippedObject[] }> {
  const common = { target: request.target, scratch: plan.scratch, tables: moves(plan), lockTimeoutMs: deps.lockTimeoutMs ?? LOCK_TIMEOUT_MS, ...(request.signal ? { signal: request.signal } : {}) };
  if (plan.mode === 'recreate') return deps.copier.recreate({ ...common, objects });
  return { tables: await deps.copier.copy({ ...common, mode: plan.mode }) };
}

function moves(plan: RestoreTablePlan) {
  return plan.tables.map((t) => ({ source: { schema: t.schema, name: t.name }, into: t.into }));
}

function tableReport(t: CopiedTable): RestoredTableReport {
  return { table: displayTable(t.source), into: displayTable(t.into), rowsBefore: t.rowsBefore, rowsAfter: t.rowsAfter, rowsRestored: t.rowsRestored, sequences: t.sequences };
}

function outcome(plan: RestoreTablePlan, scratchCreated: boolean): string {
  return `The tables of "${plan.target.database}" were left as they were${scratchCreated ? ` (the scratch database "${plan.scratch}" is dropped)` : ''}`;
}

function randomNonce(): string {
  return randomBytes(4).toString('hex');
}
