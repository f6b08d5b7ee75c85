/**
 * Recreating dropped tables on the target (TableCopier.recreate): the archive's own SQL for the
 * table and everything tied to it, run in order in one transaction on one session, with the rows
 * streamed from the scratch database in place of the dump's. Objects that tie the table to the
 * rest of the database (foreign keys, views, triggers, grants…) are each tried under a savepoint:
 * one PostgreSQL refuses is skipped with its reason, and so is whatever needs it.
 */
import type pg from 'pg';
import { connectClient } from './client';
import { columnsOf, findTable } from './table-catalog';
import { countRows, mapCopyError, moveSequencesForward, refused, stream, type Prepared } from './table-move';
import { displayTable } from '../../domain/restore-table-plan';
import { StrongboxError } from '../../errors';
import type { CopiedTable, RecreateObject, RecreateResult, SkippedObject, TableRecreateRequest } from '../../ports/restore-table';

/**
 * Recreates the tables of `request` (see TableCopier.recreate).
 *
 * @throws StrongboxError RESTORE_TABLE_REFUSED, RESTORE_VERIFICATION_FAILED; what mapCopyError maps.
 */
export async function recreateTables(request: TableRecreateRequest): Promise<RecreateResult> {
  const target = await connectClient(request.target);
  let scratch: pg.Client | undefined;
  try {
    scratch = await connectClient({ ...request.target, database: request.scratch });
    await scratch.query("SELECT pg_catalog.set_config('search_path', '', false)");
    const lockTimeout = `${Math.max(1, Math.round(request.lockTimeoutMs))}ms`;
    await target.query('BEGIN');
    const result = await runObjects(scratch, target, request, lockTimeout);
    request.signal?.throwIfAborted();
    await target.query('COMMIT');
    return result;
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    const reason: unknown = request.signal?.aborted ? request.signal.reason : undefined;
    throw mapCopyError(reason instanceof StrongboxError ? reason : error, request.target, 'recreate the tables in');
  } finally {
    await target.end().catch(() => undefined);
    await scratch?.end().catch(() => undefined);
  }
}

async function runObjects(scratch: pg.Client, target: pg.Client, request: TableRecreateRequest, lockTimeout: string): Promise<RecreateResult> {
  // The scripts set lock_timeout to 0 (wait forever): ours is set again after each.
  const limitLocks = () => target.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", [lockTimeout]);
  await limitLocks();
  for (const { into } of request.tables) {
    if (await findTable(target, into)) throw refused(`${displayTable(into)} exists in "${request.target.database}" by now`, '--mode recreate brings back a dropped table: use --mode replace or append for a table that exists, or side-by-side to compare');
  }
  const recreated: string[] = [];
  const skipped: SkippedObject[] = [];
  const skippedIds = new Map<number, string>();
  const copied = new Map<string, { prepared: Prepared; rows: number }>();
  for (const object of request.objects) {
    request.signal?.throwIfAborted();
    const missing = object.after.find((id) => skippedIds.has(id));
    if (missing !== undefined) {
      if (object.required) throw refused(`${object.label} cannot be recreated: it needs ${skippedIds.get(missing) ?? missing}, which was not`, 'the target differs from the backup where the table needs it: restore it --mode side-by-side and rebuild it by hand');
      skip(object, `needs ${skippedIds.get(missing) ?? missing}, which was not recreated`);
      continue;
    }
    if (object.rows) {
      const prepared = await prepare(scratch, target, object.rows, request);
      copied.set(displayTable(object.rows), { prepared, rows: await stream(scratch, target, prepared, displayTable(prepared.into), request.signal) });
      recreated.push(object.label);
      continue;
    }
    const sql = object.sql ?? '';
    if (object.required) {
      await target.query(sql).catch((error: unknown) => {
        throw requiredFailed(object, error);
      });
    } else {
      await target.query('SAVEPOINT strongbox_object');
      try {
        await target.query(sql);
        await target.query('RELEASE SAVEPOINT strongbox_object');
      } catch (error) {
        await target.query('ROLLBACK TO SAVEPOINT strongbox_object');
        await limitLocks();
        skip(object, reasonOf(error));
        continue;
      }
    }
    await limitLocks();
    recreated.push(object.label);
  }
  const tables: CopiedTable[] = [];
  for (const move of request.tables) {
    const done = copied.get(displayTable(move.source));
    if (!done) throw new StrongboxError('RESTORE_FAILED', `the rows of ${displayTable(move.source)} were not among the objects to recreate`, 'this is a bug: nothing was changed (rolled back)');
    const rowsAfter = await countRows(target, move.into);
    if (rowsAfter !== done.rows) {
      throw new StrongboxError('RESTORE_VERIFICATION_FAILED', `${displayTable(move.into)} would have ${rowsAfter} rows, the backup ${done.rows}`, 'nothing was changed (rolled back); a trigger or rule of the database may add or remove rows');
    }
    const sequences = await moveSequencesForward(target, { ...done.prepared, targetColumns: await columnsOf(target, done.prepared.oid as number) });
    tables.push({ source: move.source, into: move.into, rowsBefore: null, rowsAfter, rowsRestored: done.rows, sequences });
  }
  return { tables, recreated, skipped };

  function skip(object: RecreateObject, reason: string): void {
    skipped.push({ object: object.label, reason, sql: object.statements ?? object.sql ?? '' });
    skippedIds.set(object.id, object.label);
  }
}

/** The recreated table, as the dump defined it, and the source columns its rows are copied from. */
async function prepare(scratch: pg.Client, target: pg.Client, table: { schema: string; name: string }, request: TableRecreateRequest): Promise<Prepared> {
  const source = await findTable(scratch, table);
  if (!source) throw new StrongboxError('RESTORE_VERIFICATION_FAILED', `${displayTable(table)} is missing from the scratch database "${request.scratch}"`, 'pg_restore did not create it: restore from another backup');
  const found = await findTable(target, table);
  if (!found) throw new StrongboxError('RESTORE_FAILED', `${displayTable(table)} was not created before its rows`, 'this is a bug: nothing was changed (rolled back)');
  // Generated columns are computed again; the rest is written as the backup holds it (COPY keeps identity values).
  const columns = (await columnsOf(scratch, source.oid)).filter((c) => !c.generated);
  return { source: table, into: table, columns, oid: found.oid };
}

/** A lock not granted stays PostgreSQL's error (mapped as busy by the caller); any other refusal names the object. */
function requiredFailed(object: RecreateObject, error: unknown): unknown {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === '55P03') return error;
  return new StrongboxError('RESTORE_TABLE_REFUSED', `${object.label} cannot be recreated: ${reasonOf(error)}`, 'nothing was changed (rolled back). The target differs from the backup where the table itself needs it (a type, schema or function gone or changed): restore --mode side-by-side and rebuild the table by hand', { cause: error });
}

/** PostgreSQL's message with its detail, on one line. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const detail = typeof error === 'object' && error !== null && typeof (error as { detail?: unknown }).detail === 'string' ? ` (${(error as { detail: string }).detail})` : '';
  return `${message}${detail}`.replace(/\s+/g, ' ').trim();
}
