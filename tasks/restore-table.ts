import { pgRestoreTableDeps } from '../shared/runtime/table-restore-deps';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { JOB_EXIT } from '../shared/domain/invoke/job';
import { momentOf, parseRestoreTablePayload, type RestoreTablePayload } from '../shared/domain/invoke/restore-table';
import type { PgConnection } from '../shared/ports/postgres';
import { pgScratchRecovery } from '../shared/runtime/scratch-tools';
import type { PitrTarget } from '../shared/domain/wal/pitr-target';
import { StrongboxError } from '../shared/errors';
import type { AwsDeps } from '../shared/runtime/aws';
import type { ScratchRecoveryTools } from '../shared/ports/restore-table-as-of';
import { runTableAsOf } from '../shared/usecases/restore-table/as-of';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import type { RestoreTableDeps } from '../shared/usecases/restore-table';
import { runRestoreTableRequest } from '../shared/usecases/restore-table/job';
import { withTaskArchive } from './drill-wal';
import { awsSecretReader, runJobTask, startJobTaskIfEntry, type JobTaskIo, type SecretReader } from './job-task';

/** What the restore-table task runs with: the table restore's adapters and a secret reader. */
export interface RestoreTableTaskDeps extends RestoreTableDeps {
  readSecret: SecretReader;
  /** For a restore as of a moment: the WAL catalog the recovery is planned from. */
  walCatalog?: AwsDeps['walCatalog'];
  /** For a restore as of a moment: the scratch recovery's server side (default: this image's PostgreSQL). */
  recovery?: ScratchRecoveryTools;
  /** The built WAL bundle (default: dist/wal.js of the image). */
  walBundle?: string;
}

/** How long the scratch recovery of a restore as of a moment may take. */
const RECOVERY_TIMEOUT_MS = 6 * 3600_000;

/**
 * A restore as of a moment in the task: the task serves its own scratch cluster the archive
 * (withTaskArchive: the local archive endpoint on 127.0.0.1 reading the stored WAL through the
 * task's storage), so that its restore_command is Strongbox's wal-fetch as everywhere else;
 * then runTableAsOf. Everything is removed at the end.
 */
async function restoreAsOf(deps: RestoreTableTaskDeps, job: RestoreTablePayload, at: PitrTarget, target: PgConnection, signal: AbortSignal) {
  const walCatalog = deps.walCatalog;
  if (!walCatalog) throw new StrongboxError('UNEXPECTED', 'the task has no WAL catalog: a restore as of a moment cannot be planned', 'this is a bug in the task\'s wiring: report it');
  return withTaskArchive({ ...deps, walCatalog }, job.database, (restoreCommand, warmWal) =>
    runTableAsOf(
      { ...deps, walCatalog, recovery: deps.recovery ?? pgScratchRecovery },
      {
        database: job.database,
        at,
        target,
        table: job.table,
        mode: job.mode,
        restoreCommand,
        warmWal,
        timeoutMs: RECOVERY_TIMEOUT_MS,
        signal,
        ...(job.timeline !== undefined ? { timeline: job.timeline } : {}),
        ...(job.sourceDatabase !== undefined ? { sourceDatabase: job.sourceDatabase } : {}),
      },
    ),
  );
}

/** The adapters in AWS: S3, DynamoDB and SNS from the task definition's environment, Secrets Manager, pg_restore and the target's session. */
export function awsRestoreTableTaskDeps(env: NodeJS.ProcessEnv, log: Log): RestoreTableTaskDeps {
  return { ...awsDeps(env, log), ...pgRestoreTableDeps, readSecret: awsSecretReader() };
}

/**
 * The restore-table task (`node dist/task-restore-table.js`, started by the restore-table
 * state machine): reads its job from STRONGBOX_JOB, the target's connection from the job's
 * secret (the database is the job's target database), and restores the tables the pattern
 * selects through a scratch database (replace and append in one transaction); with a moment
 * (time, lsn or name) the tables as they were then, from a scratch cluster it recovers (restoreAsOf). SIGTERM aborts
 * it: the tables are left as they were and the task exits 143.
 *
 * Exit codes: 0 restored; 1 failed (the log line says why); 2 bad job; 143 stopped.
 */
export async function runRestoreTableTask(io: JobTaskIo, makeDeps: (env: NodeJS.ProcessEnv, log: Log) => RestoreTableTaskDeps = awsRestoreTableTaskDeps): Promise<number> {
  return runJobTask(io, { name: 'restore-table', failed: 'restore-table task failed' }, parseRestoreTablePayload, async (job, log, signal) => {
    const deps = makeDeps(io.env, log);
    const database = targetDatabaseOf(job);
    const target = { ...(await deps.readSecret(job.target.secretArn, database)), database };
    signal.throwIfAborted();
    const at = momentOf(job);
    const report = at
      ? await restoreAsOf(deps, job, at, target, signal)
      : await runRestoreTableRequest(deps, { backupId: job.backupId ?? 'latest', database: job.database, table: job.table, mode: job.mode, target }, { signal });
    log.info('restore-table task finished', { ...report });
    return JOB_EXIT.ok;
  });
}

startJobTaskIfEntry('task-restore-table.js', (io) => runRestoreTableTask(io));
