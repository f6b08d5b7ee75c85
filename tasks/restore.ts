import { tmpdir } from 'node:os';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { JOB_EXIT } from '../shared/domain/invoke/job';
import { parseRestorePayload } from '../shared/domain/invoke/restore';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { pgRestoreDeps } from '../shared/runtime/restore-tools';
import { runRestore, type RestoreDeps } from '../shared/usecases/restore';
import { assertDiskFits, statfsFree, type FreeDisk } from './disk-check';
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
 * A parallel restore (jobs > 1) of a named backup first checks that its dump fits the task's
 * disk (`free` measures it): BACKUP_TOO_LARGE_FOR_TASK before anything starts otherwise.
 *
 * Exit codes: 0 restored; 1 failed (the log line says why and what became of the target);
 * 2 bad job; 143 stopped.
 */
export async function runRestoreTask(io: JobTaskIo, makeDeps: (env: NodeJS.ProcessEnv, log: Log) => RestoreTaskDeps = awsRestoreTaskDeps, free: FreeDisk = statfsFree): Promise<number> {
  return runJobTask(io, { name: 'restore', failed: 'restore task failed' }, parseRestorePayload, async (job, log, signal) => {
    const deps = makeDeps(io.env, log);
    const jobs = job.jobs ?? 2;
    // The function names the backup it planned; `latest` (a hand-made job) is resolved by the restore.
    const backup = job.backupId === 'latest' ? undefined : await deps.catalog.get(job.backupId);
    if (backup && jobs > 1) await assertDiskFits({ job: 'restore', backup, storage: deps.storage, disk: { jobs }, dir: deps.tmpDir ?? tmpdir(), free, log });
    const database = targetDatabaseOf(job);
    const target = { ...(await deps.readSecret(job.target.secretArn, database)), database };
    signal.throwIfAborted();
    const report = await runRestore(deps, {
      backupId: job.backupId,
      database: job.database,
      target,
      jobs,
      dropFirst: job.dropFirst ?? false,
      force: false,
      signal,
    });
    log.info('restore task finished', { ...report });
    return JOB_EXIT.ok;
  });
}

startJobTaskIfEntry('task-restore.js', (io) => runRestoreTask(io));
