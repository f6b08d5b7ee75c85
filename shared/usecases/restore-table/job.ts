/**
 * A table restore from a plain request object (JSON-able, no callbacks): what an ECS task
 * started by the restore-table state machine runs once it resolved the target's secret.
 */
import type { PgConnection } from '../../ports/postgres';
import { RESTORE_TABLE_MODES, type RestoreTableMode } from '../../domain/restore-table-plan';
import { InputError } from '../../errors';
import { runRestoreTable, type RestoreTableDeps, type RestoreTablePhase, type RestoreTableReport } from '../restore-table';

/** A table restore as plain data. */
export interface PlainRestoreTableRequest {
  /** A backup id or `latest`. */
  backupId: string;
  /** Strongbox's name of the backed-up database (default: the target database's name). */
  database?: string;
  /** The table pattern, e.g. `public.orders` or `"Sales".*`. */
  table: string;
  /** Default side-by-side: no existing table changes. */
  mode?: RestoreTableMode;
  /** Restore from a backup that is not VERIFIED. Default false. */
  force?: boolean;
  /** The target database, with the credentials the task read from its secret. */
  target: PgConnection;
}

/** What the caller may pass besides the request. */
export interface RestoreTableJobOptions {
  /** Aborts the restore (SIGTERM of the task): the target is left as it was. */
  signal?: AbortSignal;
  onProgress?: (progress: { phase: RestoreTablePhase }) => void;
}

/**
 * Runs the whole table restore of `request` (see runRestoreTable).
 *
 * @throws InputError when the request is not one (every problem listed); what runRestoreTable throws.
 */
export async function runRestoreTableRequest(deps: RestoreTableDeps, request: PlainRestoreTableRequest, options: RestoreTableJobOptions = {}): Promise<RestoreTableReport> {
  const problems: string[] = [];
  if (typeof request.backupId !== 'string' || request.backupId === '') problems.push('backupId: a backup id or "latest"');
  if (typeof request.table !== 'string' || request.table.trim() === '') problems.push('table: a table pattern like public.orders');
  if (request.mode !== undefined && !RESTORE_TABLE_MODES.includes(request.mode)) problems.push(`mode: one of ${RESTORE_TABLE_MODES.join(', ')}`);
  if (request.database !== undefined && (typeof request.database !== 'string' || request.database === '')) problems.push('database: a database name');
  const target = request.target as Partial<PgConnection> | undefined;
  if (!target || typeof target.host !== 'string' || typeof target.port !== 'number' || typeof target.user !== 'string' || typeof target.database !== 'string') {
    problems.push('target: a connection with host, port, user and database');
  }
  if (problems.length) throw new InputError(`the table restore request is invalid: ${problems.join('; ')}`, 'see PlainRestoreTableRequest in shared/usecases/restore-table/job.ts');
  return runRestoreTable(deps, {
    backupId: request.backupId,
    ...(request.database !== undefined ? { database: request.database } : {}),
    target: request.target,
    table: request.table,
    mode: request.mode ?? 'side-by-side',
    force: request.force ?? false,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}
