import { JOB_EXIT, readJob } from '../shared/domain/invoke/job';
import { parseValidatePayload } from '../shared/domain/invoke/validate';
import { asStrongboxError, InputError, InterruptedError } from '../shared/errors';
import { stderrLog } from '../shared/local/stderr-log';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { pgValidationDeps } from '../shared/runtime/validate-tools';
import { runValidation, type ValidationDeps } from '../shared/usecases/validate';
import type { JobTaskIo } from './restore';

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
 * Exit codes: 0 the backup restored and verified; 1 it did not, or the drill could not run;
 * 2 bad job; 143 stopped (nothing recorded).
 */
export async function runValidateTask(io: JobTaskIo, makeDeps: (env: NodeJS.ProcessEnv, log: Log) => ValidationDeps = awsValidationTaskDeps): Promise<number> {
  const log = stderrLog(true);
  const abort = new AbortController();
  io.onStop((signal) => abort.abort(new InterruptedError(signal)));
  try {
    const job = readJob(io.env, parseValidatePayload);
    if (job.dryRun) throw new InputError('the validation task got a dry-run job', 'a dry run is answered by the function; start the task without dryRun');
    const report = await runValidation(makeDeps(io.env, log), {
      backupId: job.backupId,
      ...(job.database !== undefined ? { database: job.database } : {}),
      signal: abort.signal,
    });
    log.info('validation task finished', { ...report });
    return report.ok ? JOB_EXIT.ok : JOB_EXIT.failed;
  } catch (error) {
    const reason: unknown = abort.signal.aborted ? abort.signal.reason : undefined;
    const failure = asStrongboxError(reason instanceof InterruptedError ? reason : error);
    log.error('validation task failed', { code: failure.code, reason: failure.message, hint: failure.hint });
    if (failure instanceof InterruptedError) return JOB_EXIT.interrupted;
    return failure instanceof InputError ? JOB_EXIT.badInput : JOB_EXIT.failed;
  }
}

const isEntryPoint = process.argv[1] !== undefined && /task-validate\.js$/.test(process.argv[1]);
if (isEntryPoint) {
  muteSdkNodeVersionWarning();
  void runValidateTask({
    env: process.env,
    onStop: (handler) => {
      process.once('SIGTERM', () => handler('SIGTERM'));
      process.once('SIGINT', () => handler('SIGINT'));
    },
  }).then((code) => process.exit(code));
}
