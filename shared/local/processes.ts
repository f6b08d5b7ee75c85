import { hostname } from 'node:os';
import { localRunner } from '../domain/backup-lock';
import type { ProcessProbe } from '../ports';

/** This host's processes, asked with signal 0 (nothing is sent; only existence is checked). */
export const localProcesses: ProcessProbe = {
  hostname: hostname(),
  isAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      // EPERM: it exists but belongs to another user; ESRCH: there is no such process.
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};

/** The `runner` this process records on the backups it writes: `pid:<pid>@<host>`. */
export function thisProcessRunner(): string {
  return localRunner(process.pid, localProcesses.hostname);
}
