import type { DeployConfig, DeployDatabase } from './deploy-config';
import { firesIn } from './schedule';

/**
 * The backup dispatcher's plan: one EventBridge rule fires the dispatcher every minute, and
 * the dispatcher starts what the config says is due in the minute that ended — instead of
 * one rule per database and job (4 rules and 3 permissions per database: 56 databases used
 * to fill CloudFormation's 500 resources). Pure: the window is a parameter.
 */

/** `validation`: the monthly restore drill of the newest logical backup; `pitr-drill`: the physical drill of a random instant inside the PITR window, at the same moment. */
export type DueJobKind = 'logical' | 'base' | 'wal-checkpoint' | 'validation' | 'pitr-drill';

export interface DueJob {
  kind: DueJobKind;
  database: DeployDatabase;
  /** The moment the job's schedule fired (the same moment for a retried dispatch: its idempotency key). */
  at: Date;
}

/** The dispatcher's own schedule, and the window each firing covers. */
export const DISPATCH_PERIOD_MS = 60_000;

/**
 * The window a dispatcher firing at `firedAt` covers: the minute that ends at `firedAt`
 * (floored to the minute, as EventBridge's `time` is). Consecutive firings cover
 * consecutive windows: every moment once.
 */
export function dispatchWindow(firedAt: Date, periodMs: number = DISPATCH_PERIOD_MS): { from: Date; to: Date } {
  const to = Math.floor(firedAt.getTime() / periodMs) * periodMs;
  return { from: new Date(to - periodMs), to: new Date(to) };
}

/**
 * Every job whose schedule fires in (`from`, `to`], per database in config order: its
 * logical dump (its own schedule), its base backup, its WAL checkpoint, its restore drill and
 * its physical drill (the stack's; both drills on the validation schedule). A schedule that
 * fires twice in the window gives two jobs.
 */
export function dueJobs(config: DeployConfig, from: Date, to: Date): DueJob[] {
  const shared: Array<[DueJobKind, string]> = [
    ['base', config.baseBackup],
    ['wal-checkpoint', config.walCheckpoint],
    ['validation', config.validation],
    ['pitr-drill', config.validation],
  ];
  // The stack-wide schedules are the same for every database: evaluated once.
  const sharedFires = shared.map(([kind, expression]) => [kind, firesIn(expression, from, to)] as const);
  const byExpression = new Map<string, Date[]>();
  const fires = (expression: string) => {
    if (!byExpression.has(expression)) byExpression.set(expression, firesIn(expression, from, to));
    return byExpression.get(expression)!;
  };
  const jobs: DueJob[] = [];
  for (const database of config.databases) {
    for (const at of fires(database.schedule)) jobs.push({ kind: 'logical', database, at });
    for (const [kind, moments] of sharedFires) for (const at of moments) jobs.push({ kind, database, at });
  }
  return jobs;
}
