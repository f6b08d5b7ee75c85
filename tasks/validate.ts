import { tmpdir } from 'node:os';
import { JOB_EXIT } from '../shared/domain/invoke/job';
import { parseValidatePayload } from '../shared/domain/invoke/validate';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { pgValidationDeps } from '../shared/runtime/validate-tools';
import { runValidation, type ValidationDeps } from '../shared/usecases/validate';
import { resolveDrillBackup } from '../shared/usecases/validate/steps';
import { assertDiskFits, statfsFree, type FreeDisk } from './disk-check';
import { runJobTask, startJobTaskIfEntry, type JobTaskIo } from './job-task';

/** The adapters in AWS: S3, DynamoDB and SNS from the task definition's environment; pg_restore and initdb of the image. */
export function awsValidationTaskDeps(env: NodeJS.ProcessEnv, log: Log): ValidationDeps {
  return { ...awsDeps(env, log), ...pgValidationDeps };
}

/**
 * The validation task (`node dist/task-validate.js`, started by the validation state machine,
 * monthly or by `sls invoke -f validate`): reads its job from STRONGBOX_JOB and runs the
 * restore drill in a throwaway PostgreSQL inside the task (the image needs the server
 * binaries). The drill records `lastValidation` in the catalog and publishes
 * VALIDATION_FAILED itself when the backup is bad.
 *
 * First it checks that the backup (the dump, the restored database) fits the task's disk,
 * `free` measuring it: a drill that cannot fit is BACKUP_TOO_LARGE_FOR_TASK before anything
 * starts (nothing recorded).
 *
 * Exit codes: 0 the backup restored and verified; 1 it did not, or the drill could not run;
 * 2 bad job; 143 stopped (nothing recorded).
 */
export async function runValidateTask(io: JobTaskIo, makeDeps: (env: NodeJS.ProcessEnv, log: Log) => ValidationDeps = awsValidationTaskDeps, free: FreeDisk = statfsFree): Promise<number> {
  return runJobTask(io, { name: 'validation', failed: 'validation task failed' }, parseValidatePayload, async (job, log, signal) => {
    const deps = makeDeps(io.env, log);
    const backup = await resolveDrillBackup(deps.catalog, job.backupId, job.database);
    await assertDiskFits({ job: 'validate', backup, storage: deps.storage, disk: { jobs: 1, scratchInTask: true }, dir: deps.tmpDir ?? tmpdir(), free, log });
    const report = await runValidation(deps, {
      backupId: job.backupId,
      ...(job.database !== undefined ? { database: job.database } : {}),
      signal,
    });
    log.info('validation task finished', { ...report });
    return report.ok ? JOB_EXIT.ok : JOB_EXIT.failed;
  });
}

startJobTaskIfEntry('task-validate.js', (io) => runValidateTask(io));
