import { nextFire } from '../domain/schedule';
import type { Clock, Log } from '../ports';

/** A job fired by the in-process scheduler, from the same expression as serverless.yml. */
export interface ScheduledJob {
  name: string;
  /** `cron(...)` or `rate(...)`, as in serverless.yml. */
  expression: string;
  run(firedAt: Date): Promise<unknown>;
}

export interface Scheduler {
  /** The next firing of each job. */
  upcoming(): Array<{ name: string; at: Date }>;
  /** Fires nothing more; resolves once the runs already going have settled. */
  stop(): Promise<void>;
  /** The jobs running now. */
  running(): string[];
}

/**
 * Fires each job at the moments its EventBridge expression names, in this process (local
 * mode). A job's failure is logged and does not stop the schedule; a run still going when
 * the next is due is not doubled (the next firing is skipped with a warning).
 */
export function startScheduler(jobs: readonly ScheduledJob[], clock: Clock, log: Log): Scheduler {
  const anchor = clock();
  const timers = new Map<string, NodeJS.Timeout>();
  const next = new Map<string, Date>();
  const busy = new Map<string, Promise<void>>();
  let stopped = false;

  const arm = (job: ScheduledJob) => {
    if (stopped) return;
    const at = nextFire(job.expression, clock(), anchor);
    next.set(job.name, at);
    const timer = setTimeout(() => {
      arm(job);
      if (busy.has(job.name)) {
        log.warn('scheduled job still running: this firing is skipped', { job: job.name });
        return;
      }
      busy.set(
        job.name,
        job
          .run(at)
          .then(() => undefined)
          .catch((error: unknown) => log.error('scheduled job failed', { job: job.name, error: (error as Error).message }))
          .finally(() => busy.delete(job.name)),
      );
    }, Math.max(0, at.getTime() - clock().getTime()));
    timer.unref();
    timers.set(job.name, timer);
  };
  jobs.forEach(arm);

  return {
    upcoming: () => jobs.map((job) => ({ name: job.name, at: next.get(job.name)! })),
    stop: async () => {
      stopped = true;
      timers.forEach((timer) => clearTimeout(timer));
      await Promise.all(busy.values());
    },
    running: () => [...busy.keys()],
  };
}
