import { ERROR_CODES, errorCodeSpec, type ErrorCode } from './error-codes';

/**
 * Every error Strongbox raises on purpose. Each has a stable `code` (for `--json`
 * output, alerts and tests), a message that says what failed, and a `hint` that
 * says what to do. Adapters turn SDK and driver errors into these; only a handler,
 * a task's entry point or the CLI decides to exit or retry. `code` is an ErrorCode: every code
 * is registered in error-codes.ts, with its default hint, CLI exit status, HTTP status and
 * retry rule (one line there for a new code).
 */
export class StrongboxError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;

  /** `hint` defaults to the registry's hint of `code`: give a more precise one when the raise site knows it. */
  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.hint = hint ?? errorCodeSpec(code)?.hint ?? ERROR_CODES.UNEXPECTED.hint;
  }

  /** The shape printed by `--json` on failure and carried by alerts. */
  toJSON(): { code: ErrorCode; message: string; hint: string } {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** Bad input: a flag, a payload, a config file. Never retried. */
export class InputError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('INPUT_INVALID', message, hint, options);
  }
}

/** The configuration file or environment is missing something or is wrong. */
export class ConfigError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, hint, options);
  }
}

/** A storage operation failed (network, permissions, disk). */
export class StorageError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('STORAGE_FAILED', message, hint, options);
  }
}

/**
 * AWS refused a call: the role this runs as lacks a permission. Its hint names the action
 * and resource to grant, and where the grant lives (serverless.yml / deploy/*.yml).
 */
export class AccessDeniedError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('ACCESS_DENIED', message, hint, options);
  }
}

/** The object asked for does not exist in storage. */
export class ObjectNotFoundError extends StrongboxError {
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown }) {
    super('OBJECT_NOT_FOUND', `object ${key} does not exist in storage`, 'check the key, or run `strongbox list` to see what is stored', options);
    this.key = key;
  }
}

/**
 * A create-only write (S3 `If-None-Match: *`, the repository folder's exclusive create) found
 * an object at its key: nothing was written and the stored object is unchanged.
 */
export class ObjectExistsError extends StrongboxError {
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown }) {
    super(
      'OBJECT_EXISTS',
      `object ${key} already exists in storage; the create-only write stored nothing and left it unchanged`,
      'read the stored object and compare it with what was to be written; do not delete it to make room before knowing who wrote it',
      options,
    );
    this.key = key;
  }
}

/**
 * The object is in an archive storage class (S3 GLACIER / DEEP_ARCHIVE) and must be retrieved
 * (an S3 restore request, hours) before it can be read.
 */
export class ObjectInColdStorageError extends StrongboxError {
  readonly key: string;
  readonly storageClass: string;
  constructor(key: string, storageClass: string, options?: { cause?: unknown }) {
    super('OBJECT_IN_COLD_STORAGE', `object ${key} is in cold storage (${storageClass}) and cannot be read until it is retrieved`, 'restore it from cold storage first: `strongbox restore` and `strongbox validate` start the retrieval themselves', options);
    this.key = key;
    this.storageClass = storageClass;
  }
}

/** A catalog (DynamoDB) operation failed. */
export class CatalogError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('CATALOG_FAILED', message, hint, options);
  }
}

/** A conditional catalog write lost: the entry is not in the state the caller expected. */
export class ConflictError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, hint, options);
  }
}

/** A WAL file the catalog holds with other bytes than `offered` (WalCatalog.recordWal / recordWals): not recorded. */
export function walRecordConflict(conflict: { database: string; name: string; recorded: string; offered: string }): ConflictError {
  return new ConflictError(
    `WAL file ${conflict.name} of database ${conflict.database} is already recorded with SHA-256 ${conflict.recorded}; the new one has ${conflict.offered}: it was not recorded`,
    'two different files under one name means two servers archive into the same archive, or a damaged file: check archive_command on every server of this database; the recorded file is kept',
  );
}

/** Who holds a backup lock, as AlreadyRunningError reports it. */
export interface LockHolderDescription {
  /** The backup holding the lock. */
  backupId: string;
  /** Where it runs, for people (`pid 1234 on host`, `task …`). */
  runner: string;
  /** Its state in the catalog (RUNNING, UPLOADED), when it has an entry. */
  state?: string;
  heartbeatAt?: string;
  /** When its lock may be taken over if its heartbeat stops (ISO-8601 UTC). */
  expiresAt?: string;
}

/**
 * A backup of the same database and kind is already running: the message names the holder
 * and when its lock expires, the hint the command that releases it (`forceCommand`).
 */
export class AlreadyRunningError extends StrongboxError {
  readonly runningId: string;
  readonly holder: LockHolderDescription;
  constructor(database: string, holder: LockHolderDescription, forceCommand: string) {
    const heartbeat = holder.heartbeatAt ? `, last heartbeat ${holder.heartbeatAt}` : '';
    const expiry = holder.expiresAt
      ? `; its lock expires at ${holder.expiresAt} unless it heart-beats again`
      : holder.state
        ? `; it is ${holder.state}: its lock goes once its checksum is done`
        : '';
    super(
      'BACKUP_ALREADY_RUNNING',
      `a backup of database "${database}" is already running: ${holder.backupId} (${holder.runner}${heartbeat})${expiry}`,
      `wait for it to finish (\`strongbox list --database ${database}\`); if it is stuck, \`${forceCommand}\` marks it FAILED and starts a new backup`,
    );
    this.runningId = holder.backupId;
    this.holder = holder;
  }
}

/** The catalog has no entry with that id. */
export class BackupNotFoundError extends StrongboxError {
  constructor(id: string) {
    super('BACKUP_NOT_FOUND', `no backup with id ${id} in the catalog`, 'run `strongbox list` to see the backups, or `strongbox catalog rebuild` if the catalog was lost');
  }
}

/**
 * `--database NAME` names no database Strongbox knows (none in the config, no backup of it in
 * the catalog): most often a typing mistake, which must not look like "no backups".
 */
export class UnknownDatabaseError extends StrongboxError {
  constructor(name: string, hint: string) {
    super('DATABASE_UNKNOWN', `no database named "${name}" in the config or the catalog`, hint);
  }
}

/** PostgreSQL could not be reached or refused the login. */
export class DatabaseConnectionError extends StrongboxError {
  constructor(code: 'DB_UNREACHABLE' | 'DB_AUTH_FAILED' | 'DB_NOT_FOUND', message: string, hint: string, options?: { cause?: unknown }) {
    super(code, message, hint, options);
  }
}

/** pg_dump, pg_dumpall or another PostgreSQL client tool failed. */
export class DumpError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('DUMP_FAILED', message, hint, options);
  }
}

/** Stored bytes do not match what the uploader declared. */
export class ChecksumMismatchError extends StrongboxError {
  /** `backupId`, when known, leads the message: the reader learns which backup is damaged. */
  constructor(key: string, expected: string, actual: string, backupId?: string) {
    super(
      'CHECKSUM_MISMATCH',
      `${backupId === undefined ? '' : `backup ${backupId} is damaged: `}object ${key} has SHA-256 ${actual}, but its manifest declares ${expected}`,
      'the stored copy is damaged: take a new backup now and keep this one for investigation',
    );
  }
}

/** A manifest that cannot be read or does not match the schema of its format version. */
export class ManifestError extends StrongboxError {
  constructor(key: string, detail: string, options?: { cause?: unknown }) {
    super('MANIFEST_INVALID', `manifest ${key} is invalid: ${detail}`, 'the backup cannot be trusted; take a new backup (a newer Strongbox may read a newer format version)', options);
  }
}

/** Launching a task (ECS RunTask or a local child process) failed. */
export class TaskLaunchError extends StrongboxError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super('TASK_LAUNCH_FAILED', message, hint, options);
  }
}

/**
 * An object larger than storage can hold in one piece (S3: 5 TiB): refused from the size
 * estimate before anything is uploaded, or as soon as a stream passes the limit (its
 * multipart upload is then aborted).
 */
export class ObjectTooLargeError extends StrongboxError {
  constructor(bytes: number, limitBytes: number, what: 'estimate' | 'stream', options?: { cause?: unknown }) {
    const size = (n: number): string => {
      const [unit, scale] = n >= 1024 ** 4 ? ['TiB', 1024 ** 4] : n >= 1024 ** 3 ? ['GiB', 1024 ** 3] : ['MiB', 1024 ** 2];
      return `${(n / scale).toFixed(2)} ${unit} (${n} bytes)`;
    };
    super(
      'OBJECT_TOO_LARGE',
      what === 'estimate'
        ? `the object is expected to be ${size(bytes)}, over the ${size(limitBytes)} one object can hold; nothing was uploaded`
        : `the stream passed ${size(limitBytes)}, the most one object can hold; the upload was aborted and nothing was stored`,
      'S3 stores at most 5 TiB per object: compress the backup (--compression zstd), or take a logical backup of some tables (--table) instead of the whole database',
      options,
    );
  }
}

/** The operation was stopped by a signal (SIGTERM from ECS, Ctrl-C). */
export class InterruptedError extends StrongboxError {
  /** `why`, when the sender of the signal is known (e.g. local mode stopping), follows the signal's name. */
  constructor(signal: string, why?: string) {
    super('INTERRUPTED', `stopped by ${signal}${why ? `: ${why}` : ''}`, 'run the command again; nothing partial was kept');
  }
}

/** Wraps anything that is not a StrongboxError so that callers can rely on `code` and `hint`. */
export function asStrongboxError(error: unknown): StrongboxError {
  if (error instanceof StrongboxError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StrongboxError('UNEXPECTED', message, undefined, { cause: error });
}

/** 422 WAL_CONTENT_INVALID: the bytes do not decode, as declared, to a file of the declared size. */
export class WalContentInvalidError extends StrongboxError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'WAL_CONTENT_INVALID',
      `the pushed bytes are not the declared WAL file: ${detail}; nothing was stored or recorded`,
      'push only files PostgreSQL wrote (archive_command = strongbox wal-push %p); if a real push gets this, the compressor on the host is broken: run `strongbox wal-push` by hand on the file and check its output',
      options,
    );
  }
}
