/**
 * What a table restore needs from the outside besides the full restore's ports: pg_restore of
 * chosen entries, and the target database's side (checks before anything is created, and the
 * one transaction that moves the rows). Implementations: shared/adapters/postgres/table-*.ts;
 * tests wrap them to inject failures.
 */
import type { PgConnection, TableRef } from './postgres';
import type { RestoreTableMode } from '../domain/restore-table-plan';

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
  /**
   * `pg_restore --no-owner -f - -L <line>`: the SQL script of one entry of the archive, as
   * pg_restore prints it (session settings, the entry's header comment and its statements).
   *
   * @throws DumpError when pg_restore fails.
   */
  scriptOf(file: string, line: string, signal?: AbortSignal): Promise<string>;
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

/** One object of the archive to recreate on the target, in the archive's (dependency) order. */
export interface RecreateObject {
  /** Its dump id. */
  id: number;
  /** How reports name it, e.g. `FK CONSTRAINT public payments payments_account_id_fkey`. */
  label: string;
  /** True: its failure undoes everything. False: skipped, with PostgreSQL's reason, when it fails. */
  required: boolean;
  /** Dump ids of objects it needs: skipped when one of them was. */
  after: number[];
  /** A table's rows, streamed from the scratch database (instead of `sql`). */
  rows?: TableRef;
  /** The SQL that recreates it (pg_restore's script, session settings included). */
  sql?: string;
  /** Its statements alone, for the report (what to run by hand once the cause is fixed). */
  statements?: string;
}

/** An object not recreated, and why. */
export interface SkippedObject {
  object: string;
  reason: string;
  /** Its statements, to run by hand once the reason is dealt with. */
  sql: string;
}

/** What the target side is asked to recreate: dropped tables, whole. */
export interface TableRecreateRequest extends Omit<TableCopyRequest, 'mode'> {
  objects: RecreateObject[];
}

/** What a recreate did. */
export interface RecreateResult {
  tables: CopiedTable[];
  /** Labels of the objects recreated, in order. */
  recreated: string[];
  skipped: SkippedObject[];
}

/** The target database's side of a table restore. Errors: DatabaseConnectionError, or a StrongboxError saying what was refused. */
export interface TableCopier {
  /**
   * Checks, without changing anything, that the move can start: the target tables exist
   * (replace, append) or the side-by-side (recreate) names are free and their schemas exist.
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
  /**
   * Recreates dropped tables in one transaction on one session: runs each object's SQL in order
   * (the rows streamed from the scratch database), a required one's failure rolling everything
   * back, any other's rolled back to a savepoint and reported as skipped with its reason (and so
   * is whatever needs it); then moves the tables' sequences past the restored values and checks
   * their row counts before committing.
   *
   * @throws StrongboxError RESTORE_TABLE_REFUSED (a table that exists by now, a required object
   *   PostgreSQL refused, a lock not granted in time), RESTORE_VERIFICATION_FAILED (row counts);
   *   DumpError for other PostgreSQL errors.
   */
  recreate(request: TableRecreateRequest): Promise<RecreateResult>;
}
