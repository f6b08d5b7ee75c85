import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { PgConnection } from '../shared/adapters/postgres/types';
import { readDatabaseSecret } from '../shared/adapters/secrets/database-secret';
import { targetDatabaseOf } from '../shared/domain/invoke/fields';
import { JOB_EXIT, readJob } from '../shared/domain/invoke/job';
import { parseRestorePayload } from '../shared/domain/invoke/restore';
import { asStrongboxError, InputError, InterruptedError } from '../shared/errors';
import { stderrLog } from '../shared/local/stderr-log';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { pgRestoreDeps } from '../shared/runtime/restore-tools';
import { runRestore, type RestoreDeps } from '../shared/usecases/restore';

/** What a job task needs from its process; injected so that tests drive it. */
export interface JobTaskIo {
  env: NodeJS.ProcessEnv;
  /** Registers the handler for SIGTERM (ECS stop, Step Functions' StopTask) and SIGINT. */
  onStop(handler: (signal: string) => void): void;
}

/** Reads a database secret into a connection (the secret's dbname is the fallback database). */
export type SecretReader = (secretArn: string, fallbackDatabase: string) => Promise<PgConnection>;

/** What the restore task runs with: the restore's adapters and a secret reader. */
export interface RestoreTaskDeps extends RestoreDeps {
  readSecret: SecretReader;
}

/** The adapters in AWS: S3, DynamoDB and SNS from the task definition's environment, Secrets Manager, pg_restore. */
export function awsRestoreTaskDeps(env: NodeJS.ProcessEnv, log: Log): RestoreTaskDeps {
  const secrets = new SecretsManagerClient({});
  return { ...awsDeps(env, log), ...pgRestoreDeps, readSecret: (arn, fallback) => readDatabaseSecret(secrets, arn, fallback) };
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
  const log = stderrLog(true);
  const abort = new AbortController();
  io.onStop((signal) => abort.abort(new InterruptedError(signal)));
  try {
    const job = readJob(io.env, parseRestorePayload);
    if (job.dryRun) throw new InputError('the restore task got a dry-run job', 'a dry run is answered by the function; start the task without dryRun');
    const deps = makeDeps(io.env, log);
    const database = targetDatabaseOf(job);
    const target = { ...(await deps.readSecret(job.target.secretArn, database)), database };
    abort.signal.throwIfAborted();
    const report = await runRestore(deps, {
      backupId: job.backupId,
      database: job.database,
      target,
      jobs: job.jobs ?? 2,
      dropFirst: job.dropFirst ?? false,
      force: false,
      signal: abort.signal,
    });
    log.info('restore task finished', { ...report });
    return JOB_EXIT.ok;
  } catch (error) {
    const reason: unknown = abort.signal.aborted ? abort.signal.reason : undefined;
    const failure = asStrongboxError(reason instanceof InterruptedError ? reason : error);
    log.error('restore task failed', { code: failure.code, reason: failure.message, hint: failure.hint });
    if (failure instanceof InterruptedError) return JOB_EXIT.interrupted;
    return failure instanceof InputError ? JOB_EXIT.badInput : JOB_EXIT.failed;
  }
}

const isEntryPoint = process.argv[1] !== undefined && /task-restore\.js$/.test(process.argv[1]);
if (isEntryPoint) {
  muteSdkNodeVersionWarning();
  void runRestoreTask({
    env: process.env,
    onStop: (handler) => {
      process.once('SIGTERM', () => handler('SIGTERM'));
      process.once('SIGINT', () => handler('SIGINT'));
    },
  }).then((code) => process.exit(code));
}
