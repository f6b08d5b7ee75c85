/**
 * One table as it was at any moment (`strongbox restore-table --time T | --lsn L | --name N`):
 * recovers a scratch cluster in a private folder of this process (never the target) from the
 * base backup before the moment and the archived WAL up to it, matches the pattern against its
 * tables and counts their rows, dumps its database, then brings the tables into the target
 * through the table restore of a logical backup (runTablePlan: the same modes, checks, scratch
 * database, verification and single transaction).
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { WalCatalog } from '../../ports/wal-catalog';
import { redactConnection } from '../../domain/connection';
import { asOfSpace, dataExclusions, type AsOfSource, type AsOfSpace } from '../../domain/restore-table-asof';
import { boundedList, displayTable, planRestoreTable, type RestoreTablePlan } from '../../domain/restore-table-plan';
import { matchManifestTables } from '../../domain/restore-table-match';
import { quoteTable } from '../../domain/table-pattern';
import { DEFAULT_SEGMENT_SIZE } from '../../domain/wal/names';
import { describeTarget, type PitrTarget } from '../../domain/wal/pitr-target';
import type { PitrPlan } from '../../domain/wal/pitr-plan';
import type { BackupEntry } from '../../domain/backup';
import { InputError, StrongboxError } from '../../errors';
import { phaseTimer } from '../phase-timer';
import { planRecovery } from '../pitr';
import { recoverScratch, type ScratchRecovery } from '../scratch-recovery';
import type { RestoredCount } from '../../ports/restore';
import type { RestoreTableDeps, RestoreTablePhase, RestoreTableReport, RestoreTableRequest } from '../restore-table';
import { runTablePlan } from './apply';
import type { ScratchRecoveryTools } from '../../ports/restore-table-as-of';

/** A table restore's deps, the WAL catalog, and the scratch recovery's server side. */
export interface AsOfDeps extends RestoreTableDeps {
  walCatalog: WalCatalog;
  recovery: ScratchRecoveryTools;
}

/** A table restore as of a moment. */
export interface AsOfRequest extends Omit<RestoreTableRequest, 'backupId' | 'force' | 'database'> {
  /** Strongbox's name of the database whose archive is recovered. */
  database: string;
  /** The moment: a time, an LSN or a named restore point. */
  at: PitrTarget;
  /** Follow this timeline (default: the live server's). */
  timeline?: number;
  /** The database inside the recovered cluster whose tables are read (default: the target's name). */
  sourceDatabase?: string;
  /** The command the scratch cluster fetches WAL with (Strongbox's wal-fetch for `database`). */
  restoreCommand: string;
  /** Starts `database`'s WAL prefetcher at the plan's first segment while the base backup unpacks (best effort). */
  warmWal?: (database: string, firstSegment: string) => Promise<void>;
  /** How long recovery may take before it is given up. */
  timeoutMs: number;
}

/** The dry run of a restore as of a moment: from the catalog alone (the tables are matched once recovered). */
export interface AsOfPreview {
  database: string;
  target: string;
  pattern: string;
  mode: RestoreTablePlan['mode'];
  source: AsOfSource;
  space: AsOfSpace;
  baseBackupFinishedAt: string;
  timelines: number[];
  warnings: string[];
  steps: string[];
}

const TARGETS = new Set(['time', 'lsn', 'name']);

/**
 * Plans the recovery (base backup, WAL range, space) without recovering: what `--dry-run`
 * prints, with the steps the run takes (the table restore's own ones named for the pattern).
 *
 * @throws InputError for a target other than a time, an LSN or a restore point; what
 *   planRecovery throws (PITR_NO_BASE_BACKUP, WAL_GAP, PITR_TARGET_NOT_ARCHIVED…).
 */
export async function previewTableAsOf(deps: Pick<AsOfDeps, 'catalog' | 'walCatalog' | 'storage' | 'log' | 'clock'>, request: Omit<AsOfRequest, 'restoreCommand' | 'timeoutMs' | 'signal' | 'onProgress'>): Promise<AsOfPreview> {
  const { pitr, entry, source, space } = await planAsOf(deps, request);
  const plan = planRestoreTable({
    backup: entry,
    manifestTables: [],
    pgDatabase: source.sourceDatabase,
    pattern: request.table,
    mode: request.mode,
    target: { database: request.target.database, redacted: redactConnection(request.target) },
    now: deps.clock(),
    nonce: 'planned',
    asOf: { source, space },
    matchLater: true,
  });
  return {
    database: request.database,
    target: plan.target.redacted,
    pattern: request.table,
    mode: request.mode,
    source,
    space,
    baseBackupFinishedAt: pitr.base.finishedAt,
    timelines: pitr.timelines,
    warnings: pitr.warnings,
    steps: plan.steps,
  };
}

async function planAsOf(deps: Pick<AsOfDeps, 'catalog' | 'walCatalog' | 'storage' | 'log'>, request: Pick<AsOfRequest, 'database' | 'at' | 'timeline' | 'sourceDatabase' | 'target'>): Promise<{ pitr: PitrPlan; entry: BackupEntry; source: AsOfSource; space: AsOfSpace }> {
  if (!TARGETS.has(request.at.type)) throw new InputError(`a table is restored as of a time, an LSN or a restore point, not ${describeTarget(request.at)}`, 'give --time T, --lsn L or --name N (or a backup id for the newest logical backup)');
  const { plan: pitr, entry } = await planRecovery(deps, request.database, request.at, request.timeline);
  const first = await deps.walCatalog.getWal(request.database, pitr.wal.first);
  const segmentSize = first?.kind === 'segment' ? first.size : DEFAULT_SEGMENT_SIZE;
  const source: AsOfSource = { target: pitr.target, baseBackup: entry.id, wal: pitr.wal, sourceDatabase: request.sourceDatabase ?? request.target.database };
  return { pitr, entry, source, space: asOfSpace(entry, pitr, segmentSize) };
}

/**
 * Restores the tables `request.table` selects as they were at `request.at` (see the module).
 * The scratch cluster and every temporary file are removed whatever happens; the target is
 * changed only by runTablePlan's one transaction.
 *
 * @throws what previewTableAsOf throws; PG_VERSION_MISMATCH (the base backup's major is not installed); RECOVERY_FAILED (the moment not reached, WAL missing, no role to log in as,
 *   timeout); TABLE_NOT_IN_BACKUP when the pattern selects no table of the recovered database;
 *   what runTablePlan throws.
 */
export async function runTableAsOf(deps: AsOfDeps, request: AsOfRequest): Promise<RestoreTableReport> {
  const started = performance.now();
  const { steps, timed } = phaseTimer<RestoreTablePhase>(request.onProgress);
  const { entry, source, space } = await timed('plan', () => planAsOf(deps, request));
  const log = { database: request.database, baseBackup: entry.id, target: source.target, wal: source.wal };
  deps.log.info('table restore as of a moment planned', log);
  let scratch: ScratchRecovery | undefined;
  const discard = async () => {
    const recovered = scratch;
    scratch = undefined;
    const left = await recovered?.remove();
    if (left) deps.log.error('could not remove the scratch cluster', { ...log, problem: left });
  };
  try {
    const replaySeconds = await timed('recover', async () => {
      scratch = await recover(deps, request);
      return scratch.replaySeconds;
    });
    const opened = await deps.recovery.open(scratch!.connection);
    const all = await opened.tables(source.sourceDatabase);
    const counted = await opened.countRows(source.sourceDatabase, selected(all, request, source));
    const plan = planRestoreTable({
      backup: entry,
      manifestTables: counted.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows ?? 0 })),
      pgDatabase: source.sourceDatabase,
      pattern: request.table,
      mode: request.mode,
      target: { database: request.target.database, redacted: redactConnection(request.target) },
      now: deps.clock(),
      nonce: (deps.nonce ?? randomNonce)(),
      asOf: { source, space },
    });
    const exclusions = dataExclusions(all, plan.tables);
    if (exclusions.warning) plan.warnings.push(exclusions.warning);
    const tableRequest: RestoreTableRequest = { ...request, backupId: entry.id, force: false };
    return await runTablePlan(deps, tableRequest, plan, {
      fetch: (into) =>
        timed('dump', async () => {
          const file = join(into, 'as-of.dump');
          await opened.dump(source.sourceDatabase, file, exclusions.patterns, request.signal);
          deps.log.info('recovered tables dumped', { ...log, tables: boundedList(plan.tables.map(displayTable)) });
          await discard();
          return file;
        }),
      verify: (counts, scratchDb) => assertSameCounts(plan, counts, scratchDb),
    }, { started, steps, timed, extra: { asOf: { ...source, replaySeconds } } });
  } finally {
    await discard();
  }
}

/**
 * Recovers the scratch cluster (scratch-recovery.ts: the server of the base backup's major,
 * its private socket only, archiving nothing), paused at the moment, then promotes it: the
 * table restore reads a finished cluster. Asks it as `postgres` or the target's user.
 */
async function recover(deps: AsOfDeps, request: AsOfRequest): Promise<ScratchRecovery> {
  const scratch = await recoverScratch({ ...deps, server: deps.recovery.server }, {
    database: request.database,
    target: request.at,
    exclusive: false,
    ...(request.timeline !== undefined ? { timeline: request.timeline } : {}),
    parentDir: deps.tmpDir ?? tmpdir(),
    restoreCommand: request.restoreCommand,
    ...(request.warmWal ? { warmWal: (first: string) => request.warmWal!(request.database, first) } : {}),
    fallbackUser: request.target.user,
    timeoutMs: request.timeoutMs,
    ...(request.signal ? { signal: request.signal } : {}),
  });
  try {
    request.signal?.throwIfAborted();
    await scratch.promote();
  } catch (error) {
    const left = await scratch.remove();
    if (left) deps.log.error('could not remove the scratch cluster', { database: request.database, problem: left });
    throw error;
  }
  deps.log.info('scratch cluster recovered', { database: request.database, seconds: scratch.replaySeconds, fetchSeconds: scratch.fetchSeconds });
  return scratch;
}

/** The recovered tables the pattern selects (matched as a manifest's are), or TABLE_NOT_IN_BACKUP worded for the moment. */
function selected(all: Array<{ schema: string; name: string }>, request: AsOfRequest, source: AsOfSource) {
  try {
    return matchManifestTables(all.map((t) => ({ ...t, rows: 0 })), request.table, { backupId: source.baseBackup, pgDatabase: source.sourceDatabase, database: request.database });
  } catch (error) {
    if (!(error instanceof StrongboxError) || error.code !== 'TABLE_NOT_IN_BACKUP') throw error;
    const message = error.message.replace(`no table of backup ${source.baseBackup}`, `no table of database "${source.sourceDatabase}" as of ${source.target}`);
    throw new StrongboxError(error.code, message, `${error.hint}; a table created after that moment is not there yet`, { cause: error });
  }
}

/** The scratch database must hold exactly the rows counted in the recovered cluster. */
function assertSameCounts(plan: RestoreTablePlan, counts: RestoredCount[], scratch: string): void {
  const found = new Map(counts.map((t) => [quoteTable(t), t.rows]));
  const problems = plan.tables.flatMap((t) => {
    const rows = found.get(quoteTable(t));
    return rows === t.rows ? [] : [`${quoteTable(t)} has ${rows ?? 'no'} rows, the recovered cluster ${t.rows}`];
  });
  if (problems.length === 0) return;
  throw new StrongboxError('RESTORE_VERIFICATION_FAILED', `the scratch database "${scratch}" does not match the recovered cluster: ${boundedList(problems, 10)}`, 'the dump of the recovered cluster did not restore whole: run the table restore again, and report it if it repeats');
}

function randomNonce(): string {
  return randomBytes(4).toString('hex');
}
