import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { PgConnection } from '../ports/postgres';
import { redactConnection } from '../domain/connection';
import type { Manifest } from '../domain/manifest';
import { chooseTableBackup, planRestoreTable, type RestoreTableMode, type RestoreTablePlan } from '../domain/restore-table-plan';
import { asStrongboxError } from '../errors';
import { readManifest } from './index-manifest';
import { phaseTimer } from './phase-timer';
import { downloadDump, makeTempFolder } from './restore/download';
import type { RestoreDeps } from './restore';
import { restoreCandidates } from './restore/candidates';
import { markBackupDamaged, provesDamage } from './backup-damaged';
import { assertCountsMatch } from './restore/verify';
import { assertManifestOf, selectFromArchive } from './restore-table/archive';
import type { SequenceMove, SkippedObject, TableCopier, TableRestoreTools } from '../ports/restore-table';
import { plannedObjects, type PlannedObject } from './restore-table/recreate';
import { runTablePlan, type TableArchiveSource } from './restore-table/apply';
import { assertRecreatable, fetchParts, selectFromSchema } from './restore-table/parts';
import { hasParts, schemaPart } from '../domain/manifest-parts';
import type { AsOfSource } from '../domain/restore-table-asof';

export type { RestoreTablePlan, RestoreTableMode } from '../domain/restore-table-plan';
export { runTablePlan, type TableArchiveSource, type TablePlanRun } from './restore-table/apply';

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
export type RestoreTablePhase = 'plan' | 'recover' | 'cleanup' | 'download' | 'decompress' | 'dump' | 'check' | 'scratch' | 'verify' | 'copy';

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
  /** A restore as of a moment: where the tables came from (`backupId` is then the base backup's). */
  asOf?: AsOfSource & { replaySeconds: number };
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
  assertRecreatable(manifest, plan.backup.id);
  const schema = schemaPart(manifest);
  const folder = await makeTempFolder(deps.tmpDir ?? tmpdir());
  try {
    // A parallel backup's schema part alone.
    const file = await downloadDump({ storage: deps.storage, tools: deps.restoreTools, manifest, ...(schema ? { object: schema } : {}), folder: folder.path, ...(request.signal ? { signal: request.signal } : {}) });
    const selection = schema ? await selectFromSchema(deps.tableTools, file, plan, request.signal) : await selectFromArchive(deps.tableTools, file, plan, request.signal);
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
  if (plan.mode === 'recreate') assertRecreatable(manifest, plan.backup.id);
  const source: TableArchiveSource = {
    fetch: async (folder) => {
      assertManifestOf(manifest, plan);
      if (hasParts(manifest)) {
        const onBytes = (bytes: number, totalBytes: number) => request.onProgress?.({ phase: 'download', bytes, totalBytes });
        return timed('download', () => fetchParts({ storage: deps.storage, tools: deps.restoreTools, manifest, folder, ...(request.signal ? { signal: request.signal } : {}), onBytes }, plan));
      }
      const file = await timed('download', () =>
        downloadDump({
          storage: deps.storage,
          tools: deps.restoreTools,
          manifest,
          folder,
          ...(request.signal ? { signal: request.signal } : {}),
          onBytes: (bytes, totalBytes) => request.onProgress?.({ phase: 'download', bytes, totalBytes }),
          onDecompress: () => request.onProgress?.({ phase: 'decompress' }),
        }),
      );
      deps.log.info('table restore dump verified', { backupId: plan.backup.id, sha256: manifest.objects.dump.sha256, bytes: manifest.objects.dump.bytes });
      return file;
    },
    verify: (counts, scratch) => assertCountsMatch({ ...manifest, tables: plan.tables.map(({ schema, name, rows }) => ({ schema, name, rows })) }, counts, scratch),
    onFailure: async (failure) => {
      if (provesDamage(failure)) await markBackupDamaged(deps, plan.backup, failure, 'at table restore');
    },
  };
  return runTablePlan(deps, request, plan, source, { started, steps, timed });
}

function randomNonce(): string {
  return randomBytes(4).toString('hex');
}
