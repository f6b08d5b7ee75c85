import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { localRunner } from '../domain/backup-lock';
import { TaskLaunchError } from '../errors';
import type { DumpTaskRequest, TaskLauncher } from '../ports';
import { localProcesses } from './processes';

/** Set in a task's environment: the reason its entry records if local mode stops it (tasks/dump.ts). */
export const STOP_REASON_ENV = 'STRONGBOX_STOP_REASON';

/** A task still running, as `npm start` names it while it drains. */
export interface RunningTask {
  request: DumpTaskRequest;
  pid: number;
}

/**
 * Local mode's stand-in for ECS RunTask: the same dump program as a child process, with
 * the same variables the ECS overrides carry. Its output goes to `<logDir>/<backupId>.log`.
 *
 * Each task runs in its own process group and session (`detached`): Ctrl-C on the terminal
 * signals the whole foreground group, and would otherwise stop the task and its pg_dump at
 * once, blaming pg_dump. Only `npm start` decides when a task stops: it drains them
 * (`drain`), then stops what is left (`stopAll`).
 */
export class ProcessTaskLauncher implements TaskLauncher {
  private readonly children = new Map<ChildProcess, RunningTask>();

  constructor(
    private readonly options: {
      program: string;
      logDir: string;
      env: NodeJS.ProcessEnv;
      /** Told when a task ends (exit code, or null when killed by a signal). */
      onExit?: (request: DumpTaskRequest, code: number | null) => void;
    },
  ) {}

  async launch(request: DumpTaskRequest): Promise<{ runner: string }> {
    mkdirSync(this.options.logDir, { recursive: true });
    const logFd = openSync(join(this.options.logDir, `${request.backupId}.log`), 'a');
    try {
      const child = spawn(process.execPath, ['--enable-source-maps', this.options.program], {
        env: {
          ...this.options.env,
          STRONGBOX_DATABASE: request.database,
          STRONGBOX_TIER: request.tier,
          STRONGBOX_BACKUP_ID: request.backupId,
          [STOP_REASON_ENV]: 'local mode (npm start) was stopped before the backup finished',
          ...(request.secretArn ? { STRONGBOX_SECRET_ARN: request.secretArn } : {}),
          ...(request.compression ? { STRONGBOX_COMPRESSION: request.compression } : {}),
          ...(request.dumpJobs !== undefined ? { STRONGBOX_DUMP_JOBS: String(request.dumpJobs) } : {}),
          ...(request.type ? { STRONGBOX_BACKUP_TYPE: request.type } : {}),
        },
        stdio: ['ignore', logFd, logFd],
        detached: true,
      });
      const started = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid ?? 0));
        child.once('error', reject);
      });
      this.children.set(child, { request, pid: started });
      child.once('exit', (code) => {
        this.children.delete(child);
        this.options.onExit?.(request, code);
      });
      return { runner: localRunner(started, localProcesses.hostname) };
    } catch (error) {
      throw new TaskLaunchError(`could not start the local dump task: ${(error as Error).message}`, 'run `npm run build` so that dist/task-dump.js exists', {
        cause: error,
      });
    } finally {
      closeSync(logFd);
    }
  }

  /** Tasks still running. */
  get running(): number {
    return this.children.size;
  }

  /** The tasks still running, with their backups. */
  runningTasks(): RunningTask[] {
    return [...this.children.values()];
  }

  /**
   * Waits until every running task has exited, at most `waitMs`, or until `cut` aborts
   * (a second Ctrl-C). Resolves with the tasks still running then; starts nothing, stops nothing.
   */
  async drain(waitMs: number, cut?: AbortSignal): Promise<RunningTask[]> {
    const exits = [...this.children.keys()].map((child) => exited(child));
    if (exits.length && waitMs > 0 && !cut?.aborted) {
      let timer: NodeJS.Timeout | undefined;
      let onCut: (() => void) | undefined;
      await Promise.race([
        Promise.all(exits),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, waitMs);
          onCut = resolve;
          cut?.addEventListener('abort', onCut, { once: true });
        }),
      ]);
      clearTimeout(timer);
      if (onCut) cut?.removeEventListener('abort', onCut);
    }
    return this.runningTasks();
  }

  /**
   * Asks every running task to stop (SIGTERM, as ECS does: the task marks its backup FAILED
   * as interrupted and exits 143) and waits up to `graceMs`; a task still there then is
   * killed with its whole process group (its pg_dump with it). Resolves with the tasks that
   * had to be killed: their entries are still RUNNING.
   */
  async stopAll(graceMs = 10_000): Promise<RunningTask[]> {
    const killed: RunningTask[] = [];
    const waits = [...this.children].map(async ([child, task]) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exit = exited(child);
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([exit.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
      clearTimeout(timer);
      if (inTime) return;
      killed.push(task);
      try {
        process.kill(-task.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      await exit;
    });
    await Promise.all(waits);
    return killed;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
