/**
 * The table restore of a decided plan, whatever its archive comes from (a logical backup, or
 * a dump of a cluster recovered to a moment): the target's lock, the scratch database on the
 * target's server, the checks, and the one transaction that moves the rows.
 */
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { boundedList, displayTable, type RestoreTablePlan } from '../../domain/restore-table-plan';
import { asStrongboxError, ConflictError, DatabaseConnectionError, StrongboxError } from '../../errors';
import { seconds } from '../phase-timer';
import { makeTempFolder } from '../restore/download';
import type { RestoredCount } from '../../ports/restore';
import type { RestoreTableDeps, RestoreTablePhase, RestoreTableReport, RestoreTableRequest, RestoredTableReport } from '../restore-table';
import { selectFromArchive } from './archive';
import type { CopiedTable, RecreateObject, SkippedObject } from '../../ports/restore-table';
import { recreateObjects } from './recreate';
import { selectFromParts, type PartFiles, type PartsSelection } from './parts';
import { claimScratch, dropLeftoverScratches } from './scratch';

/** How long the move waits for the table locks by default. */
const LOCK_TIMEOUT_MS = 30_000;

/** Where the archive of a table restore comes from, and how its rows are checked. */
export interface TableArchiveSource {
  /**
   * Writes the archive into `folder` (private, removed afterwards) and returns its path; for a
   * parallel backup, the pre-data part's and those of the data parts holding the tables (parts.ts).
   */
  fetch(folder: string): Promise<string | PartFiles>;
  /** Checks the rows counted in the scratch database against what the source declares. @throws RESTORE_VERIFICATION_FAILED */
  verify(counts: RestoredCount[], scratch: string): void;
  /** Called with the failure before it is rethrown (a damaged backup is marked FAILED). */
  onFailure?(failure: StrongboxError): Promise<void>;
}

/** What runTablePlan needs besides the plan: the timer of the whole run and the report's extra fields. */
export interface TablePlanRun {
  started: number;
  steps: RestoreTableReport['steps'];
  timed: <T>(phase: RestoreTablePhase, fn: () => Promise<T>) => Promise<T>;
  extra?: Pick<RestoreTableReport, 'asOf'>;
}

/**
 * The table restore of a decided plan, from any source of a custom-format archive holding the
 * plan's tables (a logical backup, or a dump of a recovered cluster): take the target's restore
 * lock and drop scratch databases of killed runs; fetch the archive into a private temporary
 * folder; check its table of contents and the target tables; restore the tables into a scratch
 * database on the target's server and verify their row counts (`source.verify`); then move the
 * rows in one transaction on the target. The scratch database and the folder are always removed.
 *
 * @throws what runRestoreTable throws after its plan, with a hint saying the target was left as it was.
 */
export async function runTablePlan(deps: RestoreTableDeps, request: RestoreTableRequest, plan: RestoreTablePlan, source: TableArchiveSource, run: TablePlanRun): Promise<RestoreTableReport> {
  const { timed, steps } = run;
  const at = { backupId: plan.backup.id, database: plan.database, target: plan.target.redacted, mode: plan.mode, tables: boundedList(plan.tables.map(displayTable)) };
  deps.log.info('table restore planned', { ...at, scratch: plan.scratch, into: boundedList(plan.tables.map((t) => displayTable(t.into))) });
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
      const fetched = await source.fetch(folder.path);
      const file = typeof fetched === 'string' ? fetched : fetched.file;
      const { selection, objects } = await timed('check', async () => {
        const chosen: PartsSelection = typeof fetched === 'string' ? { ...(await selectFromArchive(deps.tableTools, file, plan, request.signal)), dataLists: [] } : await selectFromParts(deps.tableTools, fetched, plan, request.signal);
        await deps.copier.preflight({ target: request.target, mode: plan.mode, tables: moves(plan) });
        const recreate = plan.mode === 'recreate' ? await recreateObjects(deps.tableTools, file, chosen.toc, chosen.found, request.signal) : [];
        return { selection: chosen, objects: recreate };
      });
      request.signal?.throwIfAborted();
      await timed('scratch', async () => {
        await server.createDatabase(plan.scratch, locale);
        scratchCreated = true;
        await deps.tableTools.restoreListed({ ...request.target, database: plan.scratch }, file, selection.list, request.signal);
        // A parallel backup's rows are in their data parts.
        for (const data of selection.dataLists) await deps.tableTools.restoreListed({ ...request.target, database: plan.scratch }, data.file, data.list, request.signal);
      });
      await timed('verify', async () => source.verify(await server.countRows(plan.scratch, plan.tables), plan.scratch));
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
        seconds: seconds(performance.now() - run.started),
        steps,
        droppedLeftovers,
        warnings: plan.warnings,
        ...(moved.recreated ? { recreated: moved.recreated, skipped: moved.skipped } : {}),
        ...run.extra,
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
    await source.onFailure?.(failure);
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

