/**
 * What an `sls invoke` function hands to its state machine, and what it answers: the job the
 * ECS task runs (the payload with the backup already resolved, never a password), the plan
 * as the operator reads it, and the execution's name. Pure.
 */
import type { RestorePlan } from '../restore-plan';
import { timestamp } from '../restore-plan';
import type { TaskResources } from '../task-sizing';

/** The three state machines an operator can start. */
export type ExecutionKind = 'restore' | 'restore-table' | 'validate';

/**
 * The input of every Strongbox state machine: `job` is what the task program reads (as the
 * JSON of STRONGBOX_JOB); `plan` is informational (alerts and the console show it).
 */
export interface ExecutionInput<Job> {
  job: Job;
  plan?: Record<string, unknown>;
  /** The task's disk, vCPU and memory for this backup (RunTask overrides); absent: the task definition's. */
  resources?: TaskResources;
}

/** Step Functions' limit on an execution name, and the characters safe in one. */
const MAX_NAME = 80;

/**
 * `<kind>-<subject>-<yyyymmddhhmmss>`: readable in the console and the same for a repeated
 * invocation within the same second (StartExecution then returns the running execution when
 * the input is the same, and refuses when it differs).
 */
export function executionName(kind: ExecutionKind, subject: string, now: Date): string {
  const safe = subject.replace(/[^A-Za-z0-9_-]/g, '-');
  const stamp = timestamp(now);
  const room = MAX_NAME - kind.length - stamp.length - 2;
  return `${kind}-${safe.slice(0, room)}-${stamp}`;
}

/** A restore plan as the function returns it: what `strongbox restore --dry-run --json` shows, minus the full catalog entry. */
export interface RestorePlanSummary extends Record<string, unknown> {
  backupId: string;
  database: string;
  target: string;
  restoreInto: string;
  keptAs: string | null;
  dropFirst: boolean;
  jobs: number;
  warnings: string[];
  steps: string[];
}

/** The summary of a restore plan (the task names its databases with its own start time). */
export function restorePlanSummary(plan: RestorePlan): RestorePlanSummary {
  return {
    backupId: plan.backup.id,
    database: plan.database,
    target: plan.target.redacted,
    restoreInto: plan.restoreInto,
    keptAs: plan.keptAs ?? null,
    dropFirst: plan.dropFirst,
    jobs: plan.jobs,
    warnings: plan.warnings,
    steps: plan.steps,
  };
}

/** How a target named by a secret is shown in plans and logs (the function never reads the secret). */
export function secretTargetLabel(secretArn: string, database: string): string {
  return `database "${database}" on the server of secret ${secretArn}`;
}
