import { createHash } from 'node:crypto';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { DueJob } from '../../domain/dispatch';
import { StrongboxError } from '../../errors';
import type { JobStarter } from '../../ports/jobs';

/** Where each kind of job goes: function names (or ARNs) and the drill's state machine. */
export interface JobTargets {
  scheduleBackupFunction: string;
  walCheckpointFunction: string;
  validateStateMachineArn: string;
}

/**
 * The event each function received from its own EventBridge rule before the dispatcher:
 * scheduleBackup gets the database, its secret, the compression and the fired moment
 * (`time`, its idempotency key); walCheckpoint the database and its secret.
 */
export function jobPayload(job: DueJob): Record<string, unknown> {
  const { name, secretArn, compression, dumpJobs } = job.database;
  switch (job.kind) {
    case 'logical':
      return { database: name, secretArn, ...(compression ? { compression } : {}), ...(dumpJobs !== undefined ? { dumpJobs } : {}), time: job.at.toISOString() };
    case 'base':
      return { database: name, secretArn, type: 'base', time: job.at.toISOString() };
    case 'wal-checkpoint':
      return { database: name, secretArn };
    case 'validation':
      return { job: { backupId: 'latest', database: name } };
    case 'pitr-drill':
      return { job: { pitr: true, to: 'random', database: name } };
  }
}

/**
 * The drill's execution name, the same for the same database and moment (a retried dispatch
 * starts no second drill): `drill-<name>-<hash>-<yyyymmddHHMM>`, within Step Functions' 80
 * characters and its allowed characters whatever the database is called.
 */
export function drillExecutionName(database: string, at: Date, prefix: 'drill' | 'pdrill' = 'drill'): string {
  const safe = database.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  const hash = createHash('sha256').update(database).digest('hex').slice(0, 8);
  return `${prefix}-${safe}-${hash}-${at.toISOString().slice(0, 16).replace(/[-T:]/g, '')}`;
}

/**
 * The validation state machine's input for a due drill, with `resources` sized from the backup
 * (functions/dispatch.ts wires it); without it, jobPayload (the task definition's size, and the
 * task's own disk check).
 */
export type DrillInput = (job: DueJob) => Promise<object>;

/**
 * Starts due jobs in AWS: an asynchronous invocation (InvocationType Event: Lambda queues
 * it, retries it twice and sends what still fails to the failures queue) of scheduleBackup
 * or walCheckpoint, or a StartExecution of the validation state machine.
 */
export class AwsJobStarter implements JobStarter {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly sfn: SFNClient,
    private readonly targets: JobTargets,
    private readonly drillInput?: DrillInput,
  ) {}

  async start(job: DueJob): Promise<void> {
    const drill = job.kind === 'validation' || job.kind === 'pitr-drill';
    // Choosing and sizing the drill's backup fails with its own error (no base backup, too large), not JOB_NOT_STARTED.
    const input = drill && this.drillInput ? await this.drillInput(job) : jobPayload(job);
    try {
      if (drill) {
        const name = drillExecutionName(job.database.name, job.at, job.kind === 'pitr-drill' ? 'pdrill' : 'drill');
        await this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.targets.validateStateMachineArn, name, input: JSON.stringify(input) }));
        return;
      }
      const target = job.kind === 'wal-checkpoint' ? this.targets.walCheckpointFunction : this.targets.scheduleBackupFunction;
      await this.lambda.send(new InvokeCommand({ FunctionName: target, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(jobPayload(job))) }));
    } catch (error) {
      // The same drill already started (a retried dispatch): nothing to do.
      if ((error as Error).name === 'ExecutionAlreadyExists') return;
      throw new StrongboxError('JOB_NOT_STARTED', `the ${job.kind} job of ${job.database.name} could not be started: ${(error as Error).name}: ${(error as Error).message}`, 'check the dispatcher role\'s lambda:InvokeFunction and states:StartExecution, and that the target exists', { cause: error });
    }
  }
}
