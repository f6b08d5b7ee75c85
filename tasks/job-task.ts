import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { basename } from 'node:path';
import type { PgConnection } from '../shared/ports/postgres';
import { readDatabaseSecret } from '../shared/adapters/secrets/database-secret';
import { JOB_EXIT, readJob } from '../shared/domain/invoke/job';
import { asStrongboxError, InputError, InterruptedError } from '../shared/errors';
import { stderrLog } from '../shared/local/stderr-log';
import type { Log } from '../shared/ports';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';

/**
 * What the restore, restore-table and validation tasks share: the job read from STRONGBOX_JOB
 * (a dry run refused: the function answers those), SIGTERM/SIGINT turned into an abort, and
 * one exit code per outcome — 0 done, 1 failed, 2 bad job, 143 stopped.
 */

/** What a job task needs from its process; injected so that tests drive it. */
export interface JobTaskIo {
  env: NodeJS.ProcessEnv;
  /** Registers the handler for SIGTERM (ECS stop, Step Functions' StopTask) and SIGINT. */
  onStop(handler: (signal: string) => void): void;
}

/** Reads a database secret into a connection (the secret's dbname is the fallback database). */
export type SecretReader = (secretArn: string, fallbackDatabase: string) => Promise<PgConnection>;

/** The Secrets Manager reader of a task in AWS. */
export function awsSecretReader(): SecretReader {
  const secrets = new SecretsManagerClient({});
  return (arn, fallback) => readDatabaseSecret(secrets, arn, fallback);
}

/**
 * Runs one job: `work` gets the parsed job, the log and the abort signal, and returns the exit
 * code of a finished job. Every failure is logged with the `failed` message (a literal in each
 * task: the deployment's metric filters match it) and mapped to its exit code; an abort wins
 * over the error it caused.
 */
export async function runJobTask<J extends { dryRun?: boolean | undefined }>(
  io: JobTaskIo,
  { name, failed }: { name: string; failed: string },
  parse: (raw: unknown) => J,
  work: (job: J, log: Log, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  const log = stderrLog(true);
  const abort = new AbortController();
  io.onStop((signal) => abort.abort(new InterruptedError(signal)));
  try {
    const job = readJob(io.env, parse);
    if (job.dryRun) throw new InputError(`the ${name} task got a dry-run job`, 'a dry run is answered by the function; start the task without dryRun');
    return await work(job, log, abort.signal);
  } catch (error) {
    const reason: unknown = abort.signal.aborted ? abort.signal.reason : undefined;
    const failure = asStrongboxError(reason instanceof InterruptedError ? reason : error);
    log.error(failed, { code: failure.code, reason: failure.message, hint: failure.hint });
    if (failure instanceof InterruptedError) return JOB_EXIT.interrupted;
    return failure instanceof InputError ? JOB_EXIT.badInput : JOB_EXIT.failed;
  }
}

/** When this process was started as `bundle` (e.g. `task-restore.js`): runs `task` with the process's signals, then exits with its code. */
export function startJobTaskIfEntry(bundle: string, task: (io: JobTaskIo) => Promise<number>): void {
  const entry = process.argv[1];
  if (entry === undefined || basename(entry) !== bundle) return;
  muteSdkNodeVersionWarning();
  void task({
    env: process.env,
    onStop: (handler) => {
      process.once('SIGTERM', () => handler('SIGTERM'));
      process.once('SIGINT', () => handler('SIGINT'));
    },
  }).then((code) => process.exit(code));
}
