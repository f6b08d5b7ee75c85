import type { Readable } from 'node:stream';
import type { SnapshotInstant } from '../domain/manifest';

/**
 * How to reach one PostgreSQL database. The password, when there is one, travels only
 * in the child's environment (PGPASSWORD) or a passfile, never in argv or logs.
 */
export interface PgConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  /** A libpq passfile (PGPASSFILE) to read the password from. */
  passfile?: string;
  /** libpq sslmode (disable, prefer, require, verify-full…). */
  sslmode?: string;
}

/** A table as PostgreSQL names it (unquoted names, exact case). */
export interface TableRef {
  schema: string;
  name: string;
}

export interface TableCount extends TableRef {
  rows: number;
  /** True when `rows` is the planner's estimate (a table over the exact-count size), not a count. */
  estimate?: boolean;
  /** The content checksum taken in the same scan as the count (table-digest.ts); absent for an estimate. */
  checksum?: string;
}

/** A running client tool whose output is being streamed. */
export interface ToolStream {
  /**
   * The tool's stdout. It ends only after the tool exited 0; if the tool fails or is
   * killed it is destroyed with a DumpError instead, so a consumer never mistakes a
   * truncated output for a complete one.
   */
  stdout: Readable;
  /** Resolves when the tool exited 0; rejects with a DumpError (with the tail of its stderr). */
  done: Promise<void>;
  /** Kills the tool (and any compressor behind it). */
  kill(signal?: NodeJS.Signals): void;
}

/** An open REPEATABLE READ, READ ONLY transaction whose snapshot is exported. */
export interface SnapshotSession {
  /** For `pg_dump --snapshot=`; valid until close(). */
  snapshotId: string;
  /** e.g. '15.18'. */
  serverVersion: string;
  /** e.g. 150018. */
  serverVersionNum: number;
  databaseSizeBytes: number;
  /** pg_current_wal_lsn() at the snapshot (pg_last_wal_replay_lsn() on a standby); '' if unknown. */
  walLsn: string;
  /** pg_control_system()'s system identifier, or '' without the privilege to read it. */
  systemIdentifier: string;
  /** Where the snapshot lies in the WAL (snapshot-instant.ts); absent when it could not be read. */
  instant?: SnapshotInstant;
  /**
   * The tables selected: those the patterns match plus the partitions of matched partitioned
   * tables, or every user table (outside system schemas, not owned by an extension).
   * Sorted by schema, then name.
   */
  tables: TableRef[];
  /**
   * Counts the rows of every plain table and leaf partition in `tables` (`count(*) FROM ONLY`)
   * inside the snapshot, with a content checksum from the same scan; a table over the exact
   * limit gets the planner's estimate instead (`estimate: true`, no checksum: table-digest.ts).
   * Partitioned parents are left out: their rows are in their partitions.
   *
   * `signal` stops a count that waits (e.g. on a lock another session holds): the connection
   * is dropped, the server ends the transaction, and the count rejects.
   *
   * @throws DumpError (or DatabaseConnectionError) if a count fails or the session is closed;
   *   the signal's reason when it aborts.
   */
  countRows(signal?: AbortSignal): Promise<TableCount[]>;
  /** Ends the transaction and the connection; pg_dump must have started reading before. Idempotent. */
  close(): Promise<void>;
}

/** What pg_amcheck found: `ok` when it exited 0 (no corruption, no error). */
export interface AmcheckResult {
  ok: boolean;
  exitCode: number;
  /** Its report (corruption found) or error, cut to the last 2,000 characters. */
  output: string;
}

/** A stored base backup to read: its object, how it is compressed, and what its manifest declares. */
export interface StoredBaseBackup {
  body: Readable;
  compression: 'zstd' | 'none';
  key: string;
  sha256: string;
  bytes?: number;
  /** The backup's id, named in a checksum error. */
  backupId?: string;
}
