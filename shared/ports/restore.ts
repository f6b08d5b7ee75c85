/**
 * What a restore needs from the outside, as ports: PostgreSQL's client tools and zstd, and a
 * session on the target server. The implementations are shared/adapters/postgres/restore-*.ts;
 * tests wrap them to inject failures.
 */
import type { Readable } from 'node:stream';
import type { PgConnection, TableRef } from './postgres';

/** pg_restore and zstd, file to file. */
export interface RestoreTools {
  /**
   * `pg_restore --list <file>`: the archive's table of contents.
   *
   * @throws DumpError (with pg_restore's message) when the file is not a readable archive.
   */
  listArchive(file: string, signal?: AbortSignal): Promise<string>;
  /**
   * `pg_restore --no-owner --no-acl --exit-on-error -j <jobs>` of `file` into `conn.database`.
   *
   * @throws DatabaseConnectionError when the connection fails; DumpError with the tail of
   *   pg_restore's messages when a statement fails, or when `signal` aborts (pg_restore is killed).
   */
  restoreArchive(conn: PgConnection, file: string, options: { jobs: number; signal?: AbortSignal }): Promise<void>;
  /**
   * `[zstd -d |] pg_restore --single-transaction --no-owner --no-acl --exit-on-error` of the
   * archive read from `input` into `conn.database`: no local file, one transaction. An error of
   * `input` (a checksum found wrong at its end) kills the tools before they read an end of
   * input, so the transaction rolls back and the error is rethrown as it is. Optional: a
   * runtime without it restores from a downloaded file.
   *
   * @throws the error of `input`; DatabaseConnectionError; DumpError with pg_restore's (or
   *   zstd's) last messages; DumpError when `signal` aborts.
   */
  restoreStream?(conn: PgConnection, input: Readable, options: { compression: 'gzip' | 'zstd'; signal?: AbortSignal }): Promise<void>;
  /**
   * `zstd -d` of `source` into `destination`.
   *
   * @throws DumpError when zstd fails (a damaged frame, no space).
   */
  decompress(source: string, destination: string, signal?: AbortSignal): Promise<void>;
  /**
   * Applies a globals script (pg_dumpall --globals-only) to `conn`'s server, every statement
   * even after a failed one, and returns the statement errors.
   *
   * @throws DatabaseConnectionError when the server cannot be reached; DumpError when the tool fails.
   */
  applyGlobals(conn: PgConnection, file: string, signal?: AbortSignal): Promise<{ errors: string[] }>;
}

/** How a post-restore command ended (exitCode null: killed by a signal). */
export interface AfterOutcome {
  exitCode: number | null;
  signal: string | null;
  /** Its last output lines. */
  tail: string;
}

/** Runs the operator's post-restore shell command with `env` added; never throws for a failing command. */
export type AfterCommandRunner = (command: string, env: Record<string, string>, options: { signal?: AbortSignal; echo?: (chunk: string) => void }) => Promise<AfterOutcome>;

/** How a database stores and sorts text; a scratch database copies the target's. */
export interface DatabaseLocale {
  encoding: string;
  collate: string;
  ctype: string;
  /** Set when the database uses ICU (PostgreSQL 15+). */
  icuLocale?: string;
}

/** A table of the manifest as found in a restored database; `rows` undefined when it is missing. */
export interface RestoredCount extends TableRef {
  rows: number | undefined;
}

/** Every method throws DatabaseConnectionError when the server is lost, a StrongboxError otherwise. */
export interface RestoreServer {
  /** Takes this session's lock on restores into `target`; false when another session holds it. */
  lock(target: string): Promise<boolean>;
  /** The names of every database on the server. */
  listDatabases(): Promise<string[]>;
  /** The locale of `name`, or undefined when it does not exist. */
  localeOf(name: string): Promise<DatabaseLocale | undefined>;
  /** CREATE DATABASE from template0, with `locale` when given (server defaults otherwise). */
  createDatabase(name: string, locale?: DatabaseLocale): Promise<void>;
  /** Ends the sessions on `name` and drops it; nothing happens when it does not exist. */
  dropDatabase(name: string): Promise<void>;
  /** Ends the sessions on `from` and renames it. */
  renameDatabase(from: string, to: string): Promise<void>;
  /**
   * In one transaction: `target` → `keptAs`, `scratch` → `target`. New connections to
   * `target` are refused while its sessions are ended, so that none can slip in before the
   * rename. On failure nothing is renamed and `target` accepts connections again.
   */
  swap(target: string, scratch: string, keptAs: string): Promise<void>;
  /** `count(*) FROM ONLY` each table in `database`. */
  countRows(database: string, tables: TableRef[]): Promise<RestoredCount[]>;
  /** Ends the session (and its lock). Idempotent. */
  close(): Promise<void>;
}
