import type { Readable } from 'node:stream';

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
