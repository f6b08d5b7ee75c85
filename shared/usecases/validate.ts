import { phaseTimer, seconds } from './phase-timer';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { PgConnection } from '../ports/postgres';
import type { BackupEntry } from '../domain/backup';
import { quoteTable } from '../domain/table-pattern';
import { readManifest } from './index-manifest';
import { asStrongboxError, InterruptedError, StrongboxError } from '../errors';
import { runRestore, type RestoreDeps, type RestorePhase, type RestoreReport } from './restore';
import { serverScratch, throwawayScratch, type Scratch, type StartThrowaway } from './validate/scratch';
import { alertValidationFailed, recordValidation, resolveDrillBackup, rootFailure } from './validate/steps';

export type { StartThrowaway, ThrowawayOptions, ThrowawayServer } from './validate/scratch';

/** What a restore drill needs: a restore's dependencies and a way to start a throwaway server. */
export interface ValidationDeps extends RestoreDeps {
  /** Starts the throwaway PostgreSQL (shared/runtime/validate-tools.ts binds the machine's binaries). */
  startCluster: StartThrowaway;
}

/** The phases of a drill: the scratch server's start, the restore's phases, its removal. */
export type ValidationPhase = 'scratch' | RestorePhase | 'teardown';

/** Progress for a terminal. */
export interface ValidationProgress {
  phase: ValidationPhase;
  bytes?: number;
  totalBytes?: number;
}

/** What to drill, and where. */
export interface ValidationRequest {
  /** A backup id, or `latest`: the newest VERIFIED full logical backup (of `database` when given). */
  backupId: string | 'latest';
  /** Strongbox's name of the backed-up database. */
  database?: string;
  /** A configured scratch server — never production; absent: a throwaway PostgreSQL on this machine. */
  scratch?: PgConnection;
  /** pg_restore -j (default 2). */
  jobs?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ValidationProgress) => void;
}

/** What a drill reports (the `--json` shape); `lastValidation` holds `at`, `ok`, `seconds`, `reason`. */
export interface ValidationReport {
  backupId: string;
  database: string;
  ok: boolean;
  /** When the drill started (ISO-8601 UTC). */
  at: string;
  /**
   * The measured RTO: wall time from the scratch server's start (a throwaway PostgreSQL's
   * initdb and start, or the session on the scratch server) through the restore to its
   * verification (up to the failure when not ok). The scratch's removal is not in it.
   */
  seconds: number;
  /** The RTO's main parts; `download` includes the zstd decompression. */
  split: { scratch: number; download: number; restore: number; verify: number };
  /** Every phase timed, the scratch server's start and removal included. */
  steps: Array<{ name: ValidationPhase; seconds: number }>;
  /** Wall time of the whole drill. */
  totalSeconds: number;
  /** Tables and rows verified against the manifest (null when the drill failed). */
  tables: number | null;
  rows: number | null;
  /**
   * Tables whose manifest count is the planner's estimate (over the exact-count size,
   * docs/drills.md): found in the restore, their rows not compared; included in `tables`/`rows`.
   */
  estimated?: string[];
  /** Where it restored: `a throwaway PostgreSQL`, or the scratch database (no password). */
  scratch: string;
  /** Why it failed, and what to do. */
  reason?: string;
  code?: string;
  hint?: string;
  /** What the drill could not clean up or record. */
  warnings: string[];
}

/**
 * The restore drill (the runbook's monthly test): resolves the backup, starts a throwaway
 * PostgreSQL (or uses `<database>_strongbox_drill` on the configured scratch server), restores
 * the backup into it with runRestore — which checks the SHA-256 before restoring and every
 * table's row count after —, measures the time, and throws the scratch away whatever happens
 * (failure, SIGINT through `signal`). The result goes in the catalog as the backup's
 * `lastValidation`, without changing its state (runRestore still marks a checksum mismatch
 * FAILED: the stored bytes are bad). A failed drill publishes a VALIDATION_FAILED alert (SEV2)
 * and returns a report with `ok: false`.
 *
 * @throws what resolveDrillBackup throws (nothing is started); when the scratch cannot be set up
 *   (LOCAL_CLUSTER_FAILED, DatabaseConnectionError of the scratch server) the error, after an
 *   alert, with nothing recorded (the backup was not tried); INTERRUPTED when `signal` aborts,
 *   after the cleanup, with nothing recorded and no alert; BACKUP_IN_COLD_STORAGE (its retrieval
 *   started) likewise.
 */
export async function runValidation(deps: ValidationDeps, request: ValidationRequest): Promise<ValidationReport> {
  const backup = await resolveDrillBackup(deps.catalog, request.backupId, request.database);
  const at = deps.clock().toISOString();
  const keys = { backupId: backup.id, database: backup.database };
  const started = performance.now();
  const { steps, timed } = phaseTimer<ValidationPhase>(request.onProgress);

  let scratch: Scratch;
  try {
    scratch = await timed('scratch', () =>
      request.scratch ? serverScratch(deps.openServer, request.scratch, backup.database) : throwawayScratch(deps.startCluster, deps.tmpDir ?? tmpdir(), backup.database),
    );
  } catch (error) {
    const failure = asStrongboxError(error);
    deps.log.error('validation could not start: no scratch PostgreSQL', { ...keys, code: failure.code, reason: failure.message });
    await alertValidationFailed(deps, backup, failure, 'could not run (no scratch PostgreSQL)');
    throw failure;
  }
  deps.log.info('validation started', { ...keys, scratch: scratch.label, ...(request.scratch ? {} : { dataDir: scratch.dataDir }) });

  const phases = new PhaseClock();
  let report: RestoreReport | undefined;
  let failure: StrongboxError | undefined;
  let rtoSeconds: number;
  const warnings: string[] = [];
  try {
    request.signal?.throwIfAborted();
    report = await runRestore(deps, {
      backupId: backup.id,
      database: backup.database,
      target: scratch.target,
      jobs: request.jobs ?? 2,
      // The target does not exist on a fresh server; on a scratch server it is a leftover of ours.
      dropFirst: true,
      force: false,
      ...(request.signal ? { signal: request.signal } : {}),
      onProgress: (progress) => {
        phases.enter(progress.phase);
        request.onProgress?.(progress);
      },
    });
  } catch (error) {
    const reason: unknown = request.signal?.reason;
    failure = request.signal?.aborted ? (reason instanceof StrongboxError ? reason : new InterruptedError('an abort')) : asStrongboxError(error);
  } finally {
    // The RTO: the scratch server's start and the restore, not the scratch's removal.
    rtoSeconds = seconds(performance.now() - started);
    const left = await timed('teardown', () => scratch.remove());
    if (left) {
      warnings.push(left);
      deps.log.error('validation scratch not removed', { ...keys, problem: left });
    }
  }
  const restoreSteps = report ? report.steps : phases.stop();
  steps.splice(1, 0, ...restoreSteps);
  const base = { ...keys, at, seconds: rtoSeconds, split: split(steps), steps, totalSeconds: seconds(performance.now() - started), scratch: scratch.label, warnings };

  if (failure?.code === 'INTERRUPTED') {
    deps.log.warn('validation interrupted: nothing recorded', { ...keys, reason: failure.message });
    throw failure;
  }
  // Not a bad backup: its retrieval from cold storage was started; the error says when to come back.
  if (failure?.code === 'BACKUP_IN_COLD_STORAGE') {
    deps.log.warn('validation postponed: the backup is in cold storage', { ...keys, reason: failure.message });
    throw failure;
  }
  if (report) {
    const recorded = await recordValidation(deps, backup, { at, ok: true, seconds: rtoSeconds });
    if (recorded) warnings.push(recorded);
    const estimated = await estimatedTables(deps, backup, warnings);
    deps.log.info('validation passed', { ...keys, seconds: rtoSeconds, tables: report.tables, rows: report.rows, estimated: estimated.length, scratch: scratch.label });
    return { ...base, ok: true, tables: report.tables, rows: report.rows, ...(estimated.length ? { estimated } : {}) };
  }
  return failed(deps, backup, rootFailure(failure ?? asStrongboxError(new Error('the restore returned nothing'))), phases.current, base);
}

async function failed(
  deps: ValidationDeps,
  backup: BackupEntry,
  failure: StrongboxError,
  phase: RestorePhase | undefined,
  base: Omit<ValidationReport, 'ok' | 'tables' | 'rows'>,
): Promise<ValidationReport> {
  const reason = `${failure.code}${phase ? ` during ${phase}` : ''}: ${failure.message}`;
  const recorded = await recordValidation(deps, backup, { at: base.at, ok: false, seconds: base.seconds, reason });
  if (recorded) base.warnings.push(recorded);
  deps.log.error('validation failed', { backupId: backup.id, database: backup.database, code: failure.code, phase: phase ?? null, reason: failure.message });
  await alertValidationFailed(deps, backup, failure, `failed${phase ? ` during ${phase}` : ''}`);
  return { ...base, ok: false, tables: null, rows: null, reason, code: failure.code, hint: failure.hint };
}

/** The manifest's tables whose count is an estimate (read again: the manifest is small). Never throws: a warning instead. */
async function estimatedTables(deps: ValidationDeps, backup: BackupEntry, warnings: string[]): Promise<string[]> {
  try {
    return (await readManifest(deps.storage, backup.manifestKey)).tables.filter((t) => t.estimate).map(quoteTable);
  } catch (error) {
    warnings.push(`could not list the tables whose counts are estimates: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}

/** Times the restore's phases from its progress calls, for a restore that fails before reporting its own. */
class PhaseClock {
  current: RestorePhase | undefined;
  private since = 0;
  private readonly done: Array<{ name: RestorePhase; seconds: number }> = [];

  enter(phase: RestorePhase): void {
    if (phase === this.current) return;
    this.close();
    this.current = phase;
    this.since = performance.now();
  }

  stop(): Array<{ name: RestorePhase; seconds: number }> {
    this.close();
    return this.done;
  }

  private close(): void {
    if (this.current && !this.done.some((s) => s.name === this.current)) this.done.push({ name: this.current, seconds: seconds(performance.now() - this.since) });
  }
}

function split(steps: Array<{ name: ValidationPhase; seconds: number }>): ValidationReport['split'] {
  const sum = (...names: ValidationPhase[]) => Math.round(steps.filter((s) => names.includes(s.name)).reduce((total, s) => total + s.seconds, 0) * 1000) / 1000;
  return { scratch: sum('scratch'), download: sum('download', 'decompress'), restore: sum('restore'), verify: sum('verify') };
}
