/**
 * What a table restore needs from the outside besides the full restore's ports: pg_restore of
 * chosen entries, and the target database's side (checks before anything is created, and the
 * one transaction that moves the rows). Implementations: shared/adapters/postgres/table-*.ts;
 * tests wrap them to inject failures.
 */
import type { PgConnection, TableRef } from '../../adapters/postgres/types';
import type { RestoreTableMode } from '../../domain/restore-table-plan';

/** pg_restore, for some entries of an archive. */
export interface TableRestoreTools {
  /**
   * `pg_restore --list --verbose <file>`: the table of contents with each entry's dependencies.
   *
   * @throws DumpError when the file is not a readable archive.
   */
  listArchive(file: string, signal?: AbortSignal): Promise<string>;
  /**
   * `pg_restore -L <list> --no-owner --no-acl --exit-on-error` of `file` into `conn.database`.
   *
   * @throws DatabaseConnectionError when the connection fails; DumpError with pg_restore's messages.
   */
  restoreListed(conn: PgConnection, file: string, list: string, signal?: AbortSignal): Promise<void>;
}

/** One table to move: from the scratch database's `source` to the target's `into`. */
export interface TableMove {
  source: TableRef;
  into: TableRef;
}

/** What the target side is asked to do. */
export interface TableCopyRequest {
  /** The target database. */
  target: PgConnection;
  /** The scratch database, on the target's server (same user and credentials). */
  scratch: string;
  mode: RestoreTableMode;
  tables: TableMove[];
  /** How long to wait for the table locks before giving up. */
  lockTimeoutMs: number;
  signal?: AbortSignal;
}

/** A sequence moved forward past the restored values. */
export interface SequenceMove {
  sequence: string;
  from: string;
  to: string;
}

/** What happened to one table. */
export interface CopiedTable extends TableMove {
  /** Rows of `into` before (null: side-by-side created it). */
  rowsBefore: number | null;
  rowsAfter: number;
  /** Rows read from the scratch database. */
  rowsRestored: number;
  sequences: SequenceMove[];
}

/** The target database's side of a table restore. Errors: DatabaseConnectionError, or a StrongboxError saying what was refused. */
export interface TableCopier {
  /**
   * Checks, without changing anything, that the move can start: the target tables exist
   * (replace, append) or the side-by-side names are free and their schemas exist.
   *
   * @throws StrongboxError RESTORE_TABLE_REFUSED saying what is missing.
   */
  preflight(request: Omit<TableCopyRequest, 'scratch' | 'lockTimeoutMs' | 'signal'>): Promise<void>;
  /**
   * Moves the rows in one transaction on one session to the target database; on any failure
   * it rolls back, so the target is as it was.
   *
   * @throws StrongboxError RESTORE_TABLE_REFUSED (columns that do not fit, rows of other tables
   *   that would lose the rows they reference, duplicate keys with append, a lock not granted in
   *   time); DumpError for other PostgreSQL errors.
   */
  copy(request: TableCopyRequest): Promise<CopiedTable[]>;
}
