import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { pgRestoreTableDeps } from '../shared/adapters/postgres/table-restore-deps';
import { readDatabaseSecret } from '../shared/adapters/secrets/database-secret';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { JOB_EXIT, readJob } from '../shared/domain/invoke/job';
import { parseRestoreTablePayload } from '../shared/domain/invoke/restore-table';
import { asStrongboxError, InputError, InterruptedError } from '../shared/errors';
import { stderrLog } from '../shared/local/stderr-log';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import type { RestoreTableDeps } from '../shared/usecases/restore-table';
import { runRestoreTableRequest } from '../shared/usecases/restore-table/job';
import type { JobTaskIo, SecretReader } from './restore';

/** What the restore-table task runs with: the table restore's adapters and a secret reader. */
export interface RestoreTableTaskDeps extends RestoreTableDeps {
  readSecret: SecretReader;
}

/** The adapters in AWS: S3, DynamoDB and SNS from the task definition's environment, Secrets Manager, pg_restore and the target's session. */
export function awsRestoreTableTaskDeps(env: NodeJS.ProcessEnv, log: Log): RestoreTableTaskDeps {
  const secrets = new SecretsManagerClient({});
  return { ...awsDeps(env, log), ...pgRestoreTableDeps, readSecret: (arn, fallback) => readDatabaseSecret(secrets, arn, fallback) };
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
  const log = stderrLog(true);
  const abort = new AbortController();
  io.onStop((signal) => abort.abort(new InterruptedError(signal)));
  try {
    const job = readJob(io.env, parseRestoreTablePayload);
    if (job.dryRun) throw new InputError('the restore-table task got a dry-run job', 'a dry run is answered by the function; start the task without dryRun');
    const deps = makeDeps(io.env, log);
    const database = targetDatabaseOf(job);
    const target = { ...(await deps.readSecret(job.target.secretArn, database)), database };
    abort.signal.throwIfAborted();
    const report = await runRestoreTableRequest(deps, { backupId: job.backupId, database: job.database, table: job.table, mode: job.mode, target }, { signal: abort.signal });
    log.info('restore-table task finished', { ...report });
    return JOB_EXIT.ok;
  } catch (error) {
    const reason: unknown = abort.signal.aborted ? abort.signal.reason : undefined;
    const failure = asStrongboxError(reason instanceof InterruptedError ? reason : error);
    log.error('restore-table task failed', { code: failure.code, reason: failure.message, hint: failure.hint });
    if (failure instanceof InterruptedError) return JOB_EXIT.interrupted;
    return failure instanceof InputError ? JOB_EXIT.badInput : JOB_EXIT.failed;
  }
}

const isEntryPoint = process.argv[1] !== undefined && /task-restore-table\.js$/.test(process.argv[1]);
if (isEntryPoint) {
  muteSdkNodeVersionWarning();
  void runRestoreTableTask({
    env: process.env,
    onStop: (handler) => {
      process.once('SIGTERM', () => handler('SIGTERM'));
      process.once('SIGINT', () => handler('SIGINT'));
    },
  }).then((code) => process.exit(code));
}
