/**
 * What both the row copy and the recreate of a table restore do on the target: stream a table's
 * rows from the scratch database, count rows, move sequences forward past the restored values,
 * and turn PostgreSQL's refusals into RESTORE_TABLE_REFUSED.
 */
import type pg from 'pg';
import { CopyInQuery, CopyOutStream } from './copy-stream';
import { mapPgError } from './errors';
import { sequencesOf, type ColumnInfo } from './table-catalog';
import type { PgConnection, TableRef } from '../../ports/postgres';
import { displayTable } from '../../domain/restore-table-plan';
import { quoteIdent, quoteTable } from '../../domain/table-pattern';
import { StrongboxError } from '../../errors';
import type { SequenceMove, TableMove } from '../../ports/restore-table';

const REFUSED = 'RESTORE_TABLE_REFUSED';

/** A move with the columns it copies. */
export interface Prepared extends TableMove {
  /** Source columns (with side-by-side, all of them; otherwise the written ones). */
  columns: ColumnInfo[];
  /** The target table's oid (replace, append, recreate). */
  oid?: number;
  /** The target's columns (replace, append, recreate). */
  targetColumns?: ColumnInfo[];
}

/** Streams the source table's columns from the scratch database into `destination`; returns the rows written. */
export async function stream(scratch: pg.Client, target: pg.Client, t: Prepared, destination: string, signal?: AbortSignal): Promise<number> {
  signal?.throwIfAborted();
  const columns = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const out = scratch.query(new CopyOutStream(`COPY (SELECT ${columns} FROM ONLY ${quoteTable(t.source)}) TO STDOUT`));
  const abort = (): void => void out.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal?.addEventListener('abort', abort, { once: true });
  try {
    const into = target.query(new CopyInQuery(`COPY ${destination} (${columns}) FROM STDIN`, out));
    const written = await into.done;
    if (written !== out.rows) {
      throw new StrongboxError('RESTORE_FAILED', `${displayTable(t.source)}: ${out.rows} rows read from the scratch database, ${written} written`, 'nothing was changed (rolled back); run it again');
    }
    return written;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

export async function countRows(client: pg.Client, t: TableRef): Promise<number> {
  const result = await client.query<{ rows: string }>(`SELECT count(*)::text AS rows FROM ONLY ${quoteTable(t)}`);
  return Number(result.rows[0]?.rows ?? 0);
}

/**
 * Moves each ascending sequence feeding an integer column past the column's largest value, so
 * that the next nextval() does not collide with a restored row. Never moves one backwards: a
 * value handed out since the backup may live elsewhere (logs, other systems).
 */
export async function moveSequencesForward(target: pg.Client, t: Prepared): Promise<SequenceMove[]> {
  const integer = new Set((t.targetColumns ?? []).filter((c) => c.integer).map((c) => c.name));
  const moves: SequenceMove[] = [];
  for (const feed of await sequencesOf(target, t.oid as number)) {
    if (!integer.has(feed.column)) continue;
    const max = await target.query<{ max: string | null }>(`SELECT max(${quoteIdent(feed.column)})::text AS max FROM ONLY ${quoteTable(t.into)}`);
    const highest = max.rows[0]?.max;
    if (highest === null || highest === undefined) continue;
    const state = await target.query<{ last: string | null; ascending: boolean }>(
      'SELECT pg_catalog.pg_sequence_last_value($1::regclass)::text AS last, s.seqincrement > 0 AS ascending FROM pg_catalog.pg_sequence s WHERE s.seqrelid = $1::regclass',
      [feed.sequence],
    );
    const seq = state.rows[0];
    if (!seq?.ascending || (seq.last !== null && BigInt(seq.last) >= BigInt(highest))) continue;
    await target.query('SELECT pg_catalog.setval($1::regclass, $2::int8, true)', [feed.sequence, highest]);
    moves.push({ sequence: feed.sequence, from: seq.last ?? 'unused', to: highest });
  }
  return moves;
}

export function refused(message: string, hint: string): StrongboxError {
  return new StrongboxError(REFUSED, message, hint);
}

/** PostgreSQL's refusals (constraint violations, a lock not granted) as RESTORE_TABLE_REFUSED; the rest as mapPgError does. */
export function mapCopyError(error: unknown, conn: PgConnection, doing: string): StrongboxError {
  if (error instanceof StrongboxError) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  const more = typeof error === 'object' && error !== null && typeof (error as { detail?: unknown }).detail === 'string' ? ` (${(error as { detail: string }).detail})` : '';
  const rolledBack = 'nothing was changed: the transaction was rolled back';
  if (code === '23503') return new StrongboxError(REFUSED, `the restore would break a foreign key: ${detail}${more}`, `${rolledBack}. Restore the referenced or referencing tables too (one --table pattern), or restore side-by-side and merge by hand`, { cause: error });
  if (code === '23505') return new StrongboxError(REFUSED, `a restored row conflicts with a row of the table: ${detail}${more}`, `${rolledBack}. With --mode append the backup's rows must be new; use --mode replace, or side-by-side to merge by hand`, { cause: error });
  if (typeof code === 'string' && code.startsWith('23')) return new StrongboxError(REFUSED, `the table refused the backup's rows: ${detail}${more}`, `${rolledBack}. The table changed since the backup: restore side-by-side and merge by hand`, { cause: error });
  if (code === '55P03') return new StrongboxError(REFUSED, `the table is busy: ${detail}`, `${rolledBack}. Stop the writers (or wait) and run it again`, { cause: error });
  return mapPgError(error, conn, doing);
}
