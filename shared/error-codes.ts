import type { AlertType } from './domain/alerts/registry';

/**
 * Every error code Strongbox raises: the stable `code` of a StrongboxError (CLI `--json`,
 * the archive endpoint's error document, alerts' `code`, a FAILED catalog entry's
 * `errorCode`). One entry per code; pure data, read by the CLI (exit status), the archive
 * endpoint (HTTP status), the WAL host (retry or not) and scripts/gen-error-docs.ts (the
 * tables in docs/errors.md and docs/wal.md). StrongboxError's `code` is an ErrorCode, so an
 * unregistered literal fails typecheck; test/unit/error-codes.test.ts also scans the source
 * (entries' `errorCode`, codes passed on) and fails on a code listed but raised nowhere.
 *
 * To add a code: one line below, then `npx tsx scripts/gen-error-docs.ts` to update the docs.
 */
export interface ErrorCodeSpec {
  /** What happened, in a few words (docs). */
  means: string;
  /** What to do: the hint of an error raised without its own (a raise site's hint is more precise). */
  hint: string;
  /** The CLI's exit status when a command fails with it; 1 unless set (2: the command line itself is wrong). */
  exit?: 1 | 2;
  /** The archive endpoint's HTTP status for it; unset: the endpoint answers 500 INTERNAL. */
  http?: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422 | 500 | 502;
  /** The same call, tried again later with nothing changed, may succeed (network, a busy server, a lost race). */
  retryable: boolean;
  /** The alert (shared/domain/alerts/registry.ts) this code raises wherever it is found. */
  alert?: AlertType;
  /** Raised by no code path any more: why it stays (e.g. catalog entries of older versions carry it). */
  kept?: string;
}

const RETRY = 'run it again; if it keeps failing, the logs have the details';

/** The registry. Keys are the stable codes; keep them sorted. */
export const ERROR_CODES = {
  ACCESS_DENIED: { means: 'AWS refused a call: the role lacks a permission (the hint names it)', hint: 'grant the action and resource the message names (serverless.yml / deploy/*.yml) and deploy again', http: 502, retryable: true },
  ALERT_NOT_SENT: { means: 'an alert could not be delivered (SNS, Slack)', hint: 'check the topic or webhook, and that the role may publish to it', retryable: true },
  ALREADY_STARTED: { means: 'npm start is already running for this state folder', hint: 'use the CLI beside it, or stop it with Ctrl-C first', retryable: false },
  ARCHIVE_INVALID: { means: 'a stored dump is not a readable pg_dump archive', hint: 'restore another backup (`strongbox list`)', retryable: false },
  ARCHIVE_TOKEN_EMPTY: { means: "the local archive endpoint's token file is empty", hint: 'delete it; the next `npm start` writes a new one', retryable: false },
  AUTH_SIGNING_FAILED: { means: 'the WAL host could not sign its request (no AWS credentials)', hint: 'give this host an IAM role or AWS credentials allowed to invoke the archive Function URL', retryable: true },
  BACKUP_ALREADY_RUNNING: { means: 'a live backup of the same database and kind holds the lock', hint: 'wait for it to finish (`strongbox list`); if it is stuck, `strongbox backup --force` marks it FAILED', retryable: true },
  BACKUP_IN_COLD_STORAGE: { means: 'the backup is in cold storage and is being retrieved', hint: 'run the same command again once it is readable, or take the newest backup not in cold storage', retryable: true },
  BACKUP_NOT_FOUND: { means: 'no backup with that id, or none that fits, in the catalog', hint: 'run `strongbox list` to see the backups, or `strongbox catalog rebuild` if the catalog was lost', retryable: false },
  BACKUP_TOO_LARGE_FOR_TASK: { means: "the backup is larger than a task's disk can hold; nothing was started", hint: 'use a scratch server or a host with enough disk, as the message says', retryable: false },
  BAD_LSN: { means: 'a text is not an LSN', hint: 'write it as PostgreSQL prints it, e.g. 0/16B3748', retryable: false },
  BAD_WAL_NAME: { means: 'not a WAL file name (24 hex, `TTTTTTTT.history`, `.partial`, `.<8 hex>.backup`), or a request path with `/`, `..`, `%` or another path trick', hint: 'pass %f or %p exactly as PostgreSQL gives them', http: 400, retryable: false },
  BASE_BACKUP_INVALID: { means: "a base backup's label or manifest is missing or wrong", hint: 'the base backup cannot be trusted: take it again', retryable: false },
  BASE_BACKUP_TABLESPACES: { means: 'the cluster has tablespaces pg_basebackup cannot stream as one tar', hint: 'move their tables to pg_default, or use logical backups for this database', retryable: false },
  BODY_TOO_LARGE: { means: 'JSON over 16 KiB; bytes over the declared stored size or over the segment-size limit', hint: 'send the file exactly as declared', http: 413, retryable: false },
  CATALOG_FAILED: { means: 'a catalog (DynamoDB) call failed', hint: 'check that the catalog is reachable and not throttling; ' + RETRY, http: 502, retryable: true },
  CATALOG_LOCKED: { means: 'another process holds the local catalog', hint: 'use the running `npm start` instance, or stop it first', retryable: true },
  CHECKSUM_MISMATCH: { means: 'stored, sent or decoded bytes do not hash to their manifest or declaration', hint: 'the stored copy is damaged: take a new backup now and keep this one for investigation', http: 422, retryable: true, alert: 'CHECKSUM_MISMATCH' },
  CONFIG_INVALID: { means: 'the configuration file or environment is missing something or is wrong', hint: 'fix the setting the message names (strongbox.config.json, the environment, serverless.yml)', retryable: false },
  CONFLICT: { means: 'a conditional catalog write lost: the entry is not in the expected state', hint: 'run `strongbox list` to see its state now; ' + RETRY, retryable: true },
  DATABASE_NOT_SERVED: { means: 'not a database the archive endpoint serves (configured)', hint: 'add the database to strongbox.config.json and restart or redeploy', http: 403, retryable: false },
  DATABASE_UNKNOWN: { means: '--database names no database of the config or the catalog', hint: 'check the name: `strongbox list` shows the known databases', retryable: false },
  DB_AUTH_FAILED: { means: 'PostgreSQL refused the login', hint: 'check the user and the password source (DATABASE_URL, PGPASSFILE, the secret)', retryable: false },
  DB_NOT_FOUND: { means: 'the database does not exist on the server', hint: 'check the database name in the connection', retryable: false },
  DB_PERMISSION_DENIED: { means: "Strongbox's PostgreSQL role lacks a privilege", hint: '`strongbox doctor` prints the GRANT to run', retryable: false },
  DB_UNREACHABLE: { means: 'PostgreSQL could not be reached', hint: 'check host, port, network and that the server is up', retryable: true },
  DISPATCH_FAILED: { means: 'scheduled jobs due this minute could not be started by the dispatcher', hint: "the dispatcher is retried by Lambda; check its role (lambda:InvokeFunction, states:StartExecution) and the target functions, then start a missed backup by hand", retryable: true, alert: 'DISPATCH_FAILED' },
  DRILL_AMCHECK_FAILED: { means: 'pg_amcheck found corruption (or could not run) in the cluster a physical drill recovered', hint: 'take a new base backup now and check the primary with pg_amcheck', retryable: false, alert: 'VALIDATION_FAILED' },
  DRILL_MISMATCH: { means: "a physical drill's recovered cluster differs from the logical backup at the same instant (rows, contents, tables)", hint: 'keep the backups for investigation; take a new base backup and a new logical backup, and drill again', retryable: false, alert: 'VALIDATION_FAILED' },
  DRILL_NO_INSTANT: { means: "the logical backup's manifest does not record its snapshot's instant in the WAL (an older Strongbox took it)", hint: 'drill a newer logical backup: `strongbox validate --pitr --to latest`', retryable: false },
  DUMP_FAILED: { means: 'pg_dump, pg_dumpall or another PostgreSQL tool failed', hint: "the tool's messages say what failed; run it by hand with the same options to investigate", retryable: true },
  DUMP_LOCK_TIMEOUT: { means: 'a backup gave up waiting for a table lock', hint: 'nothing partial was kept: run the backup again once the migration or LOCK is done', retryable: true },
  ENDPOINT_BAD_RESPONSE: { means: 'the archive endpoint answered something that is not protocol v1', hint: 'check that the endpoint and this host run the same Strongbox version', retryable: true },
  ENDPOINT_FAILED: { means: 'the archive endpoint answered a 5xx error', hint: 'see the archive endpoint log', retryable: true },
  ENDPOINT_TIMEOUT: { means: 'the archive endpoint or the storage was idle past the timeout', hint: 'check the endpoint, or raise timeoutMs in the WAL host config', retryable: true },
  ENDPOINT_UNREACHABLE: { means: 'the archive endpoint could not be reached', hint: 'check that the endpoint runs and that its URL in the WAL host config is right', retryable: true },
  FORBIDDEN: { means: 'the credential is valid but does not cover this database', hint: "check `database` and the token or role in the host's wal.json", http: 403, retryable: false },
  HANDOFF_REFUSED: { means: 'the archive endpoint refused a hand-off of a WAL file', hint: 'push the file the usual way, compressed and sent (the WAL host does so by itself)', http: 403, retryable: true },
  HEARTBEAT_LOST: { means: 'a RUNNING backup stopped heart-beating (its task stopped): the entry is FAILED', hint: "read the task's log; the next scheduled backup runs as usual", retryable: true, alert: 'BACKUP_STALLED' },
  HTTP_REFUSED: { means: 'the endpoint or the storage answered a 4xx without a protocol error (an expired presigned URL, a proxy)', hint: 'see the answer in the message; a presigned URL that expired is asked again on the next try', retryable: true },
  HTTP_RESPONSE_TOO_LARGE: { means: 'an answer was larger than expected', hint: 'check the endpoint URL', retryable: true },
  INPUT_INVALID: { means: 'an input was refused: a flag value, a policy, a typed confirmation; at the archive endpoint, the body or the database name', hint: 'fix the input the message names', http: 400, retryable: false },
  INTERNAL: { means: 'the archive endpoint failed: any code without its own status (its message and hint are kept), or an unexpected failure', hint: "retry; if it persists, the endpoint's log has the details", http: 500, retryable: true },
  INTERRUPTED: { means: 'stopped by a signal (SIGTERM from ECS, Ctrl-C)', hint: 'run the command again; nothing partial was kept', retryable: true },
  JOB_NOT_STARTED: { means: "one scheduled job (a backup, a WAL checkpoint, a drill) could not be started", hint: "check the dispatcher role's lambda:InvokeFunction and states:StartExecution, and that the target exists", retryable: true },
  LOCAL_CLUSTER_FAILED: { means: 'the throwaway local PostgreSQL cluster failed', hint: 'read its log (the message names it)', retryable: false },
  LOCK_FORCED: { means: 'the backup was marked FAILED by `backup --force`', hint: 'nothing to do: the forcing backup took its place', retryable: false },
  MANIFEST_INVALID: { means: 'a manifest cannot be read or does not match its schema', hint: 'the backup cannot be trusted; take a new backup (a newer Strongbox may read a newer format version)', retryable: false, alert: 'MANIFEST_INVALID' },
  METHOD_NOT_ALLOWED: { means: 'the HTTP method is not allowed on that route', hint: 'use the method the message names', http: 405, retryable: false },
  NOT_FOUND: { means: 'no such archive endpoint route (in this mode)', hint: 'the archive protocol v1 routes are under /v1/ (docs/wal.md)', http: 404, retryable: false },
  OBJECT_EXISTS: { means: 'a create-only write found an object at its key; nothing was written', hint: 'read the stored object and compare; do not delete it before knowing who wrote it', retryable: false },
  OBJECT_IN_COLD_STORAGE: { means: 'an object is in an archive storage class and must be retrieved first', hint: '`strongbox restore` and `strongbox validate` start the retrieval themselves', retryable: true },
  OBJECT_NOT_FOUND: { means: 'an object is missing from storage', hint: 'check the key, or run `strongbox list` to see what is stored', retryable: false },
  OBJECT_TOO_LARGE: { means: 'an object is over the 5 TiB one S3 object can hold', hint: 'compress the backup (--compression zstd), or back up some tables (--table)', retryable: false },
  PG_VERSION_MISMATCH: { means: "the task image lacks the PostgreSQL major a backup or server needs (a recovered cluster runs exactly the base backup's major; pg_dump must be at least the server's)", hint: 'build the task image with that major (PG_MAJORS, tasks/Dockerfile) and deploy it', retryable: false },
  PITR_NO_BASE_BACKUP: { means: 'no VERIFIED base backup ends before the recovery target', hint: 'pick a later target, or take one: `strongbox backup --type base`', retryable: false },
  PITR_TARGET_NOT_ARCHIVED: { means: 'the recovery target is past the archived WAL', hint: 'wait for the next segment to be archived, or SELECT pg_switch_wal() on the server', retryable: true },
  PITR_TARGET_NOT_EMPTY: { means: 'the recovery folder is not empty', hint: 'recover into a new or empty folder', retryable: false },
  PITR_TARGET_OFF_TIMELINE: { means: 'the recovery target is not on the chosen timeline', hint: 'recover along the timeline it was made on (--timeline)', retryable: false },
  PITR_TARGET_UNREACHABLE: { means: 'the postgres OS user cannot reach the recovery folder', hint: 'put the data directory where every parent folder is traversable by that user', retryable: false },
  PITR_UNKNOWN_RESTORE_POINT: { means: 'no restore point of that name in the catalog', hint: 'list them with `strongbox list --restore-points`, or give --lsn / --time', retryable: false },
  PITR_UNKNOWN_TIMELINE: { means: 'the timeline has no archived WAL', hint: "give an archived timeline to --timeline, or leave it out to follow the live server's", retryable: false },
  RECOVERY_FAILED: { means: 'PostgreSQL recovery (PITR, a base backup read back) failed', hint: "the server's log, named in the message, says why", retryable: false },
  REPLICATION_NOT_PERMITTED: { means: 'the role may not take a base backup (REPLICATION, pg_hba.conf)', hint: 'grant REPLICATION and allow a replication connection in pg_hba.conf', retryable: false },
  RESTORE_FAILED: { means: 'a restore step failed (pg_restore, sessions that would not end, the target)', hint: 'the message says which step; fix it and run the restore again', retryable: false },
  RESTORE_GLOBALS_FAILED: { means: "applying the backup's roles and tablespaces failed; the target was not touched", hint: 'fix the cause, or restore without --globals and create the roles yourself', retryable: false },
  RESTORE_POINT_EXISTS: { means: 'the database already has a restore point of that name', hint: 'pick another name (e.g. add a date)', retryable: false },
  RESTORE_TABLE_REFUSED: { means: 'the table refused the restored rows (a key, a constraint, a lock); rolled back', hint: 'restore side-by-side and merge by hand, or use the mode the message names', retryable: false },
  RESTORE_VERIFICATION_FAILED: { means: 'the restored data does not match the manifest', hint: 'restore from another backup (`strongbox list`)', retryable: false },
  REVERIFY_NOT_SENT: { means: "the watchdog could not ask a backup's verification again (SNS)", hint: "check that the watchdog's role may sns:Publish on the object-created topic", retryable: true },
  RUNNER_GONE: { means: "a RUNNING backup's process is gone: the entry is FAILED and its lock taken over", hint: 'nothing to do: the next backup took the lock', retryable: true },
  SECRET_ACCESS_DENIED: { means: 'the role may not read a database secret', hint: 'name the secret in strongbox.config.json (or strongbox/<stage>/…) and deploy again', retryable: false },
  STORAGE_FAILED: { means: 'a storage call failed (network, permissions, disk)', hint: 'check that the storage is reachable and has room; ' + RETRY, http: 502, retryable: true },
  SYSTEM_ID_MISMATCH: { means: "a WAL segment belongs to another cluster than the archive's", hint: 'point this server at its own archive; never mix two clusters in one archive', http: 409, retryable: false },
  TABLE_NOT_IN_BACKUP: { means: 'no table of the backup matches the pattern', hint: '`pg_restore --list` of the dump shows every table; quote mixed-case names', retryable: false },
  TAR_INVALID: { means: 'a tar stream is damaged or is not a tar', hint: 'take the backup again', retryable: false },
  TASK_LAUNCH_FAILED: { means: 'a task could not be launched (ECS RunTask, a local child process)', hint: "check the cluster, the task definition and the role's ecs:RunTask", retryable: true, alert: 'BACKUP_LAUNCH_FAILED' },
  UNAUTHENTICATED: { means: 'an archive endpoint request without valid credentials (local mode: no or wrong `Authorization: Bearer <token>`)', hint: 'send the token of the token file (local mode) or sign with SigV4 (AWS)', http: 401, retryable: false },
  UNEXPECTED: { means: 'an error Strongbox did not expect', hint: 'this is a bug or an unexpected environment problem; the logs have details', retryable: false },
  USAGE_INVALID: { means: 'the command line is wrong: a flag, a missing --yes without a terminal', hint: 'see `strongbox <command> --help`', exit: 2, retryable: false },
  VERIFY_HAND_OVER_FAILED: { means: 'a verification that ran out of time could not be handed to the next invocation', hint: 'the event is retried by Lambda; if it keeps failing, grant the checksum function lambda:InvokeFunction on itself (serverless.yml)', retryable: true },
  VERIFY_TIMEOUT: { means: 'an UPLOADED backup was never VERIFIED though asked again: the entry is FAILED', hint: "read the checksum function's log; the next scheduled backup runs as usual", retryable: false, alert: 'BACKUP_UNVERIFIED' },
  WAL_BUNDLE_MISSING: { means: 'dist/wal.js is not built', hint: 'build it: npm run build', retryable: false },
  WAL_CODEC_FAILED: { means: 'compressing or decompressing a WAL file failed', hint: 'retry; then check the archived copy and that zstd works on this host', retryable: true },
  WAL_CONFLICT: { means: 'same WAL name, different bytes: the archived copy is never overwritten', hint: 'find which cluster or disk is wrong before deleting either copy', http: 409, retryable: false, alert: 'WAL_CONFLICT' },
  WAL_CONTENT_INVALID: { means: 'pushed bytes do not decode as declared to exactly the declared size', hint: 'push only files PostgreSQL wrote; if it repeats, the compressor on the host is broken', http: 422, retryable: true },
  WAL_DAMAGED: { means: "an archived WAL file's object does not decode to what its record declares (found by the deferred decoded check); its record was withdrawn", hint: 'take a new base backup now; push the file again if pg_wal still has it; the host compressor is suspect', retryable: false, alert: 'WAL_DAMAGED' },
  WAL_GAP: { means: 'the WAL archive is not continuous where it must be', hint: 'copy the missing WAL in with `strongbox wal-push` if pg_wal still has it; otherwise take a new base backup', retryable: false, alert: 'WAL_GAP' },
  WAL_HEADER_INVALID: { means: "a WAL segment's header does not match its name or declaration", hint: 'archive only the files PostgreSQL names in %p, to the archive of the cluster that wrote them', http: 422, retryable: true },
  WAL_HISTORY_INVALID: { means: 'a timeline history file is invalid', hint: 'compare it with the copy in pg_wal of the server that created the timeline', retryable: false },
  WAL_NOT_FOUND: { means: 'a fetch of a WAL file that is not archived', hint: 'nothing to fetch: the archive ends before it', http: 404, retryable: false },
  WAL_OBJECT_INVALID: { means: "a WAL record's bytes are missing or of another size in storage", hint: 'take a new base backup now, and find what changed the object', retryable: false, alert: 'WAL_OBJECT_INVALID' },
  WAL_PUSH_BUSY: { means: "another push of the same WAL name is between its upload and its record; nothing was written", hint: 'the archiver retries by itself; an upload left unrecorded past the grace period is removed by the next push', http: 409, retryable: true },
  WAL_PUSH_UNCONFIRMED: { means: 'the archive endpoint confirmed a push with a record of other bytes', hint: 'check the endpoint version and log', retryable: true },
  WAL_READ_FAILED: { means: 'wal-push could not read the file, or it changed while read', hint: 'the postgres OS user must be able to read pg_wal, and nothing else may write there', retryable: true },
  WAL_WRITE_FAILED: { means: 'wal-fetch could not write the file', hint: 'the postgres OS user must be able to write into pg_wal and the spool, and the disks must have room', retryable: true },
} as const satisfies Record<string, ErrorCodeSpec>;

/** A registered error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is in the registry. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** The registry entry of `code`, or undefined for a code nobody registered (e.g. from a newer endpoint). */
export function errorCodeSpec(code: string): ErrorCodeSpec | undefined {
  return isErrorCode(code) ? ERROR_CODES[code] : undefined;
}

/** The CLI's exit status for a failure with `code`: 1, or the registry's (2 for usage errors). */
export function exitCodeOf(code: string): 1 | 2 {
  return errorCodeSpec(code)?.exit ?? 1;
}

/** The archive endpoint's HTTP status for `code`, or undefined: it answers 500 INTERNAL. */
export function httpStatusOf(code: string): number | undefined {
  return errorCodeSpec(code)?.http;
}

/** Whether trying again may succeed; an unregistered code (a newer endpoint's) is retried. */
export function isRetryableCode(code: string): boolean {
  return errorCodeSpec(code)?.retryable ?? true;
}
