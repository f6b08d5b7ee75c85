import type { BackupEntry, BackupKind, BackupState } from '../domain/backup';

/** Who holds a named lock (e.g. `logical:app`): the backup that took it. */
export interface LockHolder {
  name: string;
  owner: string;
  acquiredAt: string;
}

export interface ListOptions {
  kind?: BackupKind;
  /** At most this many entries (newest first). */
  limit?: number;
  /**
   * Entries asked for per request (DynamoDB's `Limit`; a page also stops at 1 MB), default
   * the catalog's page size: a listing of every backup of 200 databases reads ~2 pages of
   * 1,000 instead of ~17 of 100.
   */
  pageSize?: number;
}

/**
 * The catalog contract (DynamoDB in AWS and locally, through dynalite).
 *
 * - Every write that depends on the current state is conditional; a lost condition
 *   is a ConflictError, never a silent overwrite.
 * - Lists are newest first (by `startedAt`, then id) and read through keys or
 *   indexes (Query), never a full-table Scan.
 * - Every other failure is a CatalogError with a hint; SDK errors never leak.
 */
export interface Catalog {
  /** Creates the entry unless one with the same id exists. Returns false (and changes nothing) if it existed. */
  create(entry: BackupEntry): Promise<boolean>;
  /** The entry, or undefined. */
  get(id: string): Promise<BackupEntry | undefined>;
  /**
   * Moves the entry to `to` and sets `changes`, only if its current state may move there
   * (see `canTransition`) and, with `options.from`, only if it is in one of those states (a
   * watchdog failing an UPLOADED entry must not fail one verified meanwhile). Throws
   * BackupNotFoundError or ConflictError. Returns the new entry.
   */
  transition(id: string, to: BackupState, changes?: Partial<Omit<BackupEntry, 'id' | 'state'>>, options?: { from?: readonly BackupState[] }): Promise<BackupEntry>;
  /** Sets attributes that are not the state (runner, lastValidation, bytes…). Throws BackupNotFoundError. */
  update(id: string, changes: Partial<Omit<BackupEntry, 'id' | 'state' | 'database' | 'startedAt'>>): Promise<BackupEntry>;
  /** Records a sign of life while RUNNING. Returns false when the entry is no longer RUNNING. */
  heartbeat(id: string, at: string): Promise<boolean>;
  /** A database's backups, newest first. */
  listByDatabase(database: string, options?: ListOptions): Promise<BackupEntry[]>;
  /** Every backup, newest first. */
  listAll(options?: ListOptions): Promise<BackupEntry[]>;
  /** Entries in one state (e.g. RUNNING for the watchdog), newest first. */
  listByState(state: BackupState): Promise<BackupEntry[]>;
  /**
   * Marks the entry as being deleted by retention (`deleting` = `mark`), only if its
   * state is still `expectedState` (what the plan saw). Must be written before any of
   * its objects is deleted. Idempotent: an entry already marked is returned unchanged
   * (with its first mark). Throws BackupNotFoundError when the entry is gone, and
   * ConflictError when its state changed since the plan. Returns the marked entry.
   */
  markDeleting(id: string, expectedState: BackupState, mark: { at: string; rule: string }): Promise<BackupEntry>;
  /**
   * Deletes the entry's item, only if it is marked `deleting` (its objects are gone).
   * Returns false when there was no such entry (already removed: idempotent). Throws
   * ConflictError when the entry exists but is not marked.
   */
  remove(id: string): Promise<boolean>;
  /** The holder of a lock, or undefined. */
  getLock(name: string): Promise<LockHolder | undefined>;
  /**
   * Takes the lock for `owner` if it is free, or if its current owner is `replacing`
   * (a holder the caller proved finished). Returns false when someone else holds it.
   */
  acquireLock(name: string, owner: string, at: string, replacing?: string): Promise<boolean>;
  /** Releases the lock if `owner` still holds it; otherwise does nothing. */
  releaseLock(name: string, owner: string): Promise<void>;
}
