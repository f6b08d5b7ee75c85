import { pgRestoreTableDeps } from '../shared/adapters/postgres/table-restore-deps';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { JOB_EXIT } from '../shared/domain/invoke/job';
import { parseRestoreTablePayload } from '../shared/domain/invoke/restore-table';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import type { RestoreTableDeps } from '../shared/usecases/restore-table';
import { runRestoreTableRequest } from '../shared/usecases/restore-table/job';
import { awsSecretReader, runJobTask, startJobTaskIfEntry, type JobTaskIo, type SecretReader } from './job-task';

/** What the restore-table task runs with: the table restore's adapters and a secret reader. */
export interface RestoreTableTaskDeps extends RestoreTableDeps {
  readSecret: SecretReader;
}

/** The adapters in AWS: S3, DynamoDB and SNS from the task definition's environment, Secrets Manager, pg_restore and the target's session. */
export function awsRestoreTableTaskDeps(env: NodeJS.ProcessEnv, log: Log): RestoreTableTaskDeps {
  return { ...awsDeps(env, log), ...pgRestoreTableDeps, readSecret: awsSecretReader() };
}

/**
 * The restore-table task (`node dist/task-restore-table.js`, started by the restore-table
 * state machine): reads its job from STRONGBOX_JOB, the target's connection from the job's
 * secret (the database is the job's target database), and restores the tables the pattern
 * selects through a scratch database (replace and append in one transaction). SIGTERM aborts
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
    const report = await runRestoreTableRequest(deps, { backupId: job.backupId, database: job.database, table: job.table, mode: job.mode, target }, { signal });
    log.info('restore-table task finished', { ...report });
    return JOB_EXIT.ok;
  });
}

startJobTaskIfEntry('task-restore-table.js', (io) => runRestoreTableTask(io));
