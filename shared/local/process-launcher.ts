import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { localRunner } from '../domain/backup-lock';
import { TaskLaunchError } from '../errors';
import type { DumpTaskRequest, TaskLauncher } from '../ports';
import { localProcesses } from './processes';

/**
 * Local mode's stand-in for ECS RunTask: the same dump program as a child process, with
 * the same variables the ECS overrides carry. Its output goes to `<logDir>/<backupId>.log`.
 */
export class ProcessTaskLauncher implements TaskLauncher {
  private readonly children = new Set<ChildProcess>();

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
          ...(request.secretArn ? { STRONGBOX_SECRET_ARN: request.secretArn } : {}),
          ...(request.compression ? { STRONGBOX_COMPRESSION: request.compression } : {}),
          ...(request.type ? { STRONGBOX_BACKUP_TYPE: request.type } : {}),
        },
        stdio: ['ignore', logFd, logFd],
      });
      const started = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid ?? 0));
        child.once('error', reject);
      });
      this.children.add(child);
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

  /** Asks every running task to stop (SIGTERM, as ECS does) and waits up to `graceMs`. */
  async stopAll(graceMs = 10_000): Promise<void> {
    const waits = [...this.children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(waits);
  }
}
