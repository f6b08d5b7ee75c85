import { StrongboxError } from '../../errors';

/**
 * The errors of the archive protocol (docs/wal.md), each with its stable code. The
 * transports map codes to HTTP statuses (shared/archive-endpoint/errors.ts).
 */

/** 404 WAL_NOT_FOUND: the file (or the archive identity) is not archived. */
export class WalNotFoundError extends StrongboxError {
  constructor(database: string, what: string) {
    super(
      'WAL_NOT_FOUND',
      `${what} is not in the WAL archive of database "${database}"`,
      'nothing to fetch: if recovery asked for it, the archive ends before it (archiving never reached it, or a timeline switch happened); list `wal/<database>/` in the repository to see what is archived',
    );
  }
}

/** 409 WAL_CONFLICT: the same name was archived with other bytes; nothing is overwritten. */
export class WalConflictError extends StrongboxError {
  constructor(database: string, name: string, archivedSha256: string, offeredSha256: string) {
    super(
      'WAL_CONFLICT',
      `${name} is already archived for database "${database}" with SHA-256 ${archivedSha256}, and a push offered other bytes (${offeredSha256}); the archived copy was kept`,
      'two clusters may be archiving into one archive (check archive_command on every server, and the system identifier with pg_controldata), or this pg_wal file is damaged; do not delete either copy before finding out which',
    );
  }
}

/** 409 SYSTEM_ID_MISMATCH: the segment comes from another cluster than the archive's. */
export class SystemIdMismatchError extends StrongboxError {
  constructor(database: string, detail: string) {
    super(
      'SYSTEM_ID_MISMATCH',
      `the WAL archive of database "${database}" belongs to another cluster: ${detail}`,
      'point this server at its own archive (another Strongbox database name), or, after a restore that started a new cluster, archive it under a new name; never mix two clusters in one archive',
    );
  }
}

/** 413 BODY_TOO_LARGE: a JSON body over 16 KiB, or bytes over the declared or allowed size. */
export class BodyTooLargeError extends StrongboxError {
  constructor(what: string, limit: number) {
    super('BODY_TOO_LARGE', `${what} is over the limit of ${limit} bytes; nothing was kept`, 'send the file exactly as declared; if segments are legitimately larger, raise the endpoint\'s segment-size limit');
  }
}

/** 422 CHECKSUM_MISMATCH: the stored bytes are not the declared ones; nothing was recorded. */
export class WalChecksumMismatchError extends StrongboxError {
  constructor(key: string, declared: string, actual: string) {
    super(
      'CHECKSUM_MISMATCH',
      `the bytes stored at ${key} are ${actual}, but the declaration says ${declared}; they were removed and nothing was recorded`,
      'push the file again (the archiver retries by itself); if it keeps failing, the network or the host corrupts data, or the file changed while it was read',
    );
  }
}

/** 400 INPUT_INVALID: the body stream failed before its end (the client went away); nothing was kept. */
export class UploadInterruptedError extends StrongboxError {
  constructor(name: string, options?: { cause?: unknown }) {
    super('INPUT_INVALID', `the upload of ${name} ended before its bytes did; nothing was kept`, 'push the file again', options);
  }
}

/**
 * 409 WAL_PUSH_BUSY (retryable): the file's object key holds other bytes than this push's
 * and no record says what is archived yet: another push of the same name is between its
 * upload and its record. Nothing was written.
 */
export class WalPushBusyError extends StrongboxError {
  constructor(database: string, name: string, key: string, graceSeconds: number) {
    super(
      'WAL_PUSH_BUSY',
      `${key} holds other bytes than this push of ${name} (database "${database}") and no record yet: another push of the same name is in flight; nothing was written`,
      `the archiver retries by itself: once the other push records its file, this push is answered (same bytes: archived; other bytes: WAL_CONFLICT); an upload left unrecorded for ${graceSeconds} s counts as abandoned and is removed by the next push`,
    );
  }
}
