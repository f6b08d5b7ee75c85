import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { JOB_EXIT } from '../shared/domain/invoke/job';
import { parseRestorePayload } from '../shared/domain/invoke/restore';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { pgRestoreDeps } from '../shared/runtime/restore-tools';
import { runRestore, type RestoreDeps } from '../shared/usecases/restore';
import { awsSecretReader, runJobTask, startJobTaskIfEntry, type JobTaskIo, type SecretReader } from './job-task';

export type { JobTaskIo, SecretReader } from './job-task';

/** What the restore task runs with: the restore's adapters and a secret reader. */
export interface RestoreTaskDeps extends RestoreDeps {
  readSecret: SecretReader;
}

/** The adapters in AWS: S3, DynamoDB and SNS from the task definition's environment, Secrets Manager, pg_restore. */
export function awsRestoreTaskDeps(env: NodeJS.ProcessEnv, log: Log): RestoreTaskDeps {
  return { ...awsDeps(env, log), ...pgRestoreDeps, readSecret: awsSecretReader() };
}

/**
 * The restore task (`node dist/task-restore.js`, started by the restore state machine): reads
 * its job from STRONGBOX_JOB, the target's connection from the job's secret (the database is
 * the job's target database, whatever the secret's dbname), and runs the full restore —
 * verified download, restore into a scratch database, row counts, swap. SIGTERM aborts it:
 * the target is left as it was (the swap never happened) and the task exits 143.
 *
 * Exit codes: 0 restored; 1 failed (the log line says why and what became of the target);
 * 2 bad job; 143 stopped.
 */
export async function runRestoreTask(io: JobTaskIo, makeDeps: (env: NodeJS.ProcessEnv, log: Log) => RestoreTaskDeps = awsRestoreTaskDeps): Promise<number> {
  return runJobTask(io, { name: 'restore', failed: 'restore task failed' }, parseRestorePayload, async (job, log, signal) => {
    const deps = makeDeps(io.env, log);
    const database = targetDatabaseOf(job);
    const target = { ...(await deps.readSecret(job.target.secretArn, database)), database };
    signal.throwIfAborted();
    const report = await runRestore(deps, {
      backupId: job.backupId,
      database: job.database,
      target,
      jobs: job.jobs ?? 2,
      dropFirst: job.dropFirst ?? false,
      force: false,
      signal,
    });
    log.info('restore task finished', { ...report });
    return JOB_EXIT.ok;
  });
}

startJobTaskIfEntry('task-restore.js', (io) => runRestoreTask(io));
