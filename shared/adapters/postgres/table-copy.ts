/**
 * The target database's side of a table restore (the TableCopier port): rows stream from the
 * scratch database (`COPY (SELECT …) TO STDOUT`) into the target (`COPY … FROM STDIN`) through
 * this process, on one session per database, and everything on the target happens in one
 * transaction: all or nothing. No extension (dblink, postgres_fdw) is needed on the server.
 */
import type pg from 'pg';
import { connectClient } from './client';
import { columnsOf, findTable, schemaExists } from './table-catalog';
import { countRows, mapCopyError, moveSequencesForward, refused, stream, type Prepared } from './table-move';
import { recreateTables } from './table-recreate';
import { replaceRows, type ReplaceInput } from './table-replace';
import { displayTable } from '../../domain/restore-table-plan';
import { quoteIdent, quoteTable } from '../../domain/table-pattern';
import { StrongboxError } from '../../errors';
import type { CopiedTable, TableCopier, TableCopyRequest, TableMove } from '../../ports/restore-table';

/** The real target side, on node-postgres. */
export const pgTableCopier: TableCopier = { preflight, copy, recreate: recreateTables };

async function preflight(request: Omit<TableCopyRequest, 'scratch' | 'lockTimeoutMs' | 'signal'>): Promise<void> {
  const client = await connectClient(request.target);
  try {
    for (const { into } of request.tables) {
      const found = await findTable(client, into);
      if (request.mode === 'side-by-side' || request.mode === 'recreate') {
        if (!(await schemaExists(client, into.schema))) throw refused(`schema ${JSON.stringify(into.schema)} does not exist in "${request.target.database}"`, 'create the schema first, or restore into the database the backup was taken of');
        if (found && request.mode === 'recreate') throw refused(`${displayTable(into)} exists in "${request.target.database}": --mode recreate only brings back a dropped table`, 'use --mode replace (the rows become the backup\'s) or append for a table that exists, or --mode side-by-side to get the backup\'s rows beside it');
        if (found) throw refused(`${displayTable(into)} already exists in "${request.target.database}"`, 'run it again in a moment (the name carries the time), or drop that table');
      } else if (!found) {
        throw refused(`${displayTable(into)} does not exist in "${request.target.database}"`, `--mode ${request.mode} fills an existing table: after a DROP TABLE, --mode recreate brings it back with its constraints, indexes, views and foreign keys`);
      } else if (found.kind !== 'r') {
        throw refused(`${displayTable(into)} in "${request.target.database}" is not a plain table (relkind ${found.kind})`, 'a partitioned table is restored through its partitions; restore side-by-side to compare');
      }
    }
  } catch (error) {
    throw mapCopyError(error, request.target, 'check the target tables on');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function copy(request: TableCopyRequest): Promise<CopiedTable[]> {
  if (request.mode === 'recreate') throw new StrongboxError('RESTORE_FAILED', 'a recreate is not a row copy', 'this is a bug: call recreate()');
  const target = await connectClient(request.target);
  let scratch: pg.Client | undefined;
  try {
    scratch = await connectClient({ ...request.target, database: request.scratch });
    // Types read here are written into the target's DDL: qualify every one of them.
    await scratch.query("SELECT pg_catalog.set_config('search_path', '', false)");
    await target.query('BEGIN');
    await target.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", [`${Math.max(1, Math.round(request.lockTimeoutMs))}ms`]);
    const prepared: Prepared[] = [];
    for (const move of request.tables) prepared.push(await prepare(scratch, target, move, request));
    let results: CopiedTable[];
    if (request.mode === 'side-by-side') results = await sideBySide(scratch, target, prepared, request.signal);
    else if (request.mode === 'append') results = await append(scratch, target, prepared, request.signal);
    else results = await replace(scratch, target, prepared, request.signal);
    request.signal?.throwIfAborted();
    await target.query('COMMIT');
    return results;
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    const reason: unknown = request.signal?.aborted ? request.signal.reason : undefined;
    throw mapCopyError(reason instanceof StrongboxError ? reason : error, request.target, 'restore the rows into');
  } finally {
    await target.end().catch(() => undefined);
    await scratch?.end().catch(() => undefined);
  }
}

async function prepare(scratch: pg.Client, target: pg.Client, move: TableMove, request: TableCopyRequest): Promise<Prepared> {
  const source = await findTable(scratch, move.source);
  if (!source) throw new StrongboxError('RESTORE_VERIFICATION_FAILED', `${displayTable(move.source)} is missing from the scratch database "${request.scratch}"`, 'pg_restore did not create it: restore from another backup');
  const sourceColumns = await columnsOf(scratch, source.oid);
  if (request.mode === 'side-by-side') return { ...move, columns: sourceColumns };
  const found = await findTable(target, move.into);
  if (!found || found.kind !== 'r') throw refused(`${displayTable(move.into)} is not a plain table in "${request.target.database}"`, 'use --mode side-by-side');
  const targetColumns = await columnsOf(target, found.oid);
  const byName = new Map(targetColumns.map((c) => [c.name, c]));
  const written = sourceColumns.filter((c) => !c.generated);
  const problems = written.flatMap((c) => {
    const there = byName.get(c.name);
    if (!there) return [`column ${JSON.stringify(c.name)} of the backup is not in the table`];
    if (there.generated) return [`column ${JSON.stringify(c.name)} is generated in the table`];
    return [];
  });
  if (problems.length) {
    throw refused(`${displayTable(move.into)} no longer has the backup's columns: ${problems.join('; ')}`, 'the table changed since the backup: restore with --mode side-by-side and move the rows by hand');
  }
  return { ...move, columns: written, oid: found.oid, targetColumns };
}

async function sideBySide(scratch: pg.Client, target: pg.Client, tables: Prepared[], signal?: AbortSignal): Promise<CopiedTable[]> {
  const results: CopiedTable[] = [];
  for (const t of tables) {
    await target.query(`CREATE TABLE ${quoteTable(t.into)} (${t.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`);
    const rows = await stream(scratch, target, t, quoteTable(t.into), signal);
    results.push({ source: t.source, into: t.into, rowsBefore: null, rowsAfter: await countRows(target, t.into), rowsRestored: rows, sequences: [] });
  }
  return results;
}

async function append(scratch: pg.Client, target: pg.Client, tables: Prepared[], signal?: AbortSignal): Promise<CopiedTable[]> {
  await lockAll(target, tables);
  const results: CopiedTable[] = [];
  for (const t of tables) {
    const rowsBefore = await countRows(target, t.into);
    const rows = await stream(scratch, target, t, quoteTable(t.into), signal);
    const sequences = await moveSequencesForward(target, t);
    results.push({ source: t.source, into: t.into, rowsBefore, rowsAfter: await countRows(target, t.into), rowsRestored: rows, sequences });
  }
  return results;
}

async function replace(scratch: pg.Client, target: pg.Client, tables: Prepared[], signal?: AbortSignal): Promise<CopiedTable[]> {
  await lockAll(target, tables);
  const inputs: ReplaceInput[] = [];
  for (const [index, t] of tables.entries()) {
    const rowsBefore = await countRows(target, t.into);
    const staging = quoteIdent(`strongbox_rows_${index}`);
    const columns = t.columns.map((c) => quoteIdent(c.name)).join(', ');
    // The staging table takes the target's column types; COPY's text format converts between them.
    await target.query(`CREATE TEMPORARY TABLE ${staging} ON COMMIT DROP AS SELECT ${columns} FROM ONLY ${quoteTable(t.into)} WITH NO DATA`);
    const rows = await stream(scratch, target, t, `pg_temp.${staging}`, signal);
    inputs.push({ table: t.into, oid: t.oid as number, staging: `pg_temp.${staging}`, columns: t.columns, targetColumns: t.targetColumns ?? [], rowsBefore, rowsRestored: rows });
  }
  signal?.throwIfAborted();
  await replaceRows(target, inputs);
  const results: CopiedTable[] = [];
  for (const [index, t] of tables.entries()) {
    const input = inputs[index] as ReplaceInput;
    const rowsAfter = await countRows(target, t.into);
    if (rowsAfter !== input.rowsRestored) {
      throw new StrongboxError('RESTORE_VERIFICATION_FAILED', `${displayTable(t.into)} would have ${rowsAfter} rows after the replace, the backup ${input.rowsRestored}`, 'nothing was changed (rolled back); a trigger on the table may add or remove rows: disable it and run again');
    }
    results.push({ source: t.source, into: t.into, rowsBefore: input.rowsBefore, rowsAfter, rowsRestored: input.rowsRestored, sequences: await moveSequencesForward(target, t) });
  }
  return results;
}

/** EXCLUSIVE: others may still read the tables, nobody writes them (or inserts rows referencing them) until commit. */
async function lockAll(target: pg.Client, tables: Prepared[]): Promise<void> {
  await target.query(`LOCK TABLE ${tables.map((t) => `ONLY ${quoteTable(t.into)}`).join(', ')} IN EXCLUSIVE MODE`);
}

