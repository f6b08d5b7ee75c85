import type { Catalog } from '../ports/catalog';
import type { LocalCluster } from '../adapters/postgres/cluster';
import { ConflictError } from '../errors';
import type { Clock, Log } from '../ports';
import type { ProcessTaskLauncher, RunningTask } from './process-launcher';
import type { Scheduler } from './scheduler';

/** What `npm start` has running, in the order it was started; absent parts were not started. */
export interface RunningParts {
  scheduler?: Scheduler;
  launcher?: ProcessTaskLauncher;
  /** Reports of finished tasks still being written (they read the catalog). */
  reports: Set<Promise<void>>;
  cluster?: LocalCluster;
  archiving?: { stop(): Promise<void> };
  clearInstance?: () => void;
  closeCatalog: () => Promise<void>;
  catalog: Catalog;
  clock: Clock;
}

/** How long a stopped task gets to mark its backup FAILED and exit before it is killed. */
const TASK_GRACE_MS = 10_000;

function describe(tasks: RunningTask[]): string {
  return tasks.map(({ request }) => `${request.backupId} (${request.database}, ${request.type ?? 'logical'} ${request.tier})`).join(', ');
}

/**
 * Drain, then stop, saying each step with `note` (stderr: it is still there when stdout's
 * reader is gone): no new firings; the scheduled jobs running in-process finish; running
 * tasks get `waitMs` (cut short by `cut`, a second Ctrl-C) and are then stopped with
 * SIGTERM — each marks its backup FAILED as interrupted — or killed after a grace, their
 * entries then marked FAILED here; then the demo PostgreSQL (before the archive endpoint,
 * so that its last WAL is archived), the archive endpoint, instance.json, the catalog.
 * A step that fails is logged and the next one still runs.
 */
export async function drainAndStop(parts: RunningParts, options: { waitMs: number; cut: AbortSignal; note: (line: string) => void; log: Log }): Promise<void> {
  const { note, log } = options;
  const step = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      note(`  ${what} failed: ${(error as Error).message}`);
      log.error('stop step failed', { step: what, error: (error as Error).message });
    }
  };
  if (parts.scheduler) {
    const jobs = parts.scheduler.running();
    if (jobs.length) note(`  schedules stopped; waiting for ${jobs.join(', ')} to finish…`);
    await step('stopping the schedules', () => parts.scheduler!.stop());
  }
  if (parts.launcher?.running) {
    const launcher = parts.launcher;
    const tasks = launcher.runningTasks();
    note(`  waiting up to ${Math.round(options.waitMs / 1000)} s for ${tasks.length} running backup${tasks.length > 1 ? 's' : ''} to finish: ${describe(tasks)} (Ctrl-C again stops ${tasks.length > 1 ? 'them' : 'it'} now)…`);
    const left = await launcher.drain(options.waitMs, options.cut);
    if (left.length) {
      const why = options.cut.aborted ? 'on a second Ctrl-C' : `after ${Math.round(options.waitMs / 1000)} s`;
      note(`  stopping ${left.length} backup${left.length > 1 ? 's' : ''} still running ${why}: ${describe(left)} (marked FAILED, interrupted)…`);
      const killed = await launcher.stopAll(TASK_GRACE_MS);
      for (const task of killed) await step(`marking ${task.request.backupId} FAILED`, () => markKilled(parts, task));
    }
  }
  await Promise.all(parts.reports);
  if (parts.cluster) {
    note('  stopping the demo PostgreSQL…');
    await step('stopping the demo PostgreSQL', () => parts.cluster!.stop());
  }
  if (parts.archiving) {
    note('  stopping the WAL archive endpoint…');
    await step('stopping the WAL archive endpoint', () => parts.archiving!.stop());
  }
  if (parts.clearInstance) {
    await step('removing instance.json', async () => parts.clearInstance!());
  }
  note('  stopping the catalog…');
  await step('stopping the catalog', () => parts.closeCatalog());
}

/** A task killed after its grace left its entry RUNNING: say so in the catalog, unless it ended meanwhile. */
async function markKilled(parts: RunningParts, task: RunningTask): Promise<void> {
  const reason = `stopped by SIGKILL: local mode (npm start) was stopped and the task did not stop within ${TASK_GRACE_MS / 1000} s of SIGTERM`;
  try {
    await parts.catalog.transition(task.request.backupId, 'FAILED', { reason, errorCode: 'INTERRUPTED', finishedAt: parts.clock().toISOString() });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
}
