/**
 * The chaos run's own processes, found in /proc: only what this run started (its children
 * and their descendants, and processes whose command line names this run's temporary
 * folder, such as the detached uploader and the postmaster pg_ctl left behind). Every kill
 * here is by PID, checked against the start time seen when the process was found, so a
 * recycled PID is never hit.
 */
import { readdir, readFile } from 'node:fs/promises';

/** One process as /proc shows it. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat): with the pid, a process's identity. */
  start: string;
  state: string;
  cmdline: string;
}

/** One process, or undefined when it is gone. */
export async function readProc(pid: number): Promise<ProcInfo | undefined> {
  const [stat, cmdline] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''), readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')]);
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  return { pid, ppid: Number(fields[1]), state: fields[0] ?? '?', start: fields[19] ?? '', cmdline: cmdline.replace(/\0/g, ' ').trim() };
}

/** Every process on the machine (those that vanish while read are left out). */
export async function allProcs(): Promise<ProcInfo[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  return (await Promise.all(pids.map(readProc))).filter((p): p is ProcInfo => p !== undefined);
}

/** True when `info` is still the same live process (not a zombie, not a recycled pid). */
export async function isAlive(info: Pick<ProcInfo, 'pid' | 'start'>): Promise<boolean> {
  const now = await readProc(info.pid);
  return now !== undefined && now.start === info.start && now.state !== 'Z';
}

/** SIGKILL / SIGSTOP / SIGCONT to one process this run owns, if it is still the one seen. */
export async function signalOwned(info: Pick<ProcInfo, 'pid' | 'start'>, signal: NodeJS.Signals): Promise<boolean> {
  if (!(await isAlive(info))) return false;
  try {
    process.kill(info.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Remembers every process this run owns, scanning /proc every `intervalMs`: descendants
 * of this process and of any process whose command line contains `marker` (this run's
 * unique temporary folder). `leftovers()` says which of them still live.
 */
export class OwnedProcesses {
  readonly #seen = new Map<string, ProcInfo>();
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<ProcInfo[]> | undefined;

  constructor(private readonly marker: string) {}

  /** Starts the periodic scan. */
  watch(intervalMs = 250): void {
    this.#timer = setInterval(() => void this.scan().catch(() => undefined), intervalMs);
    this.#timer.unref();
  }

  /** Stops the periodic scan. */
  unwatch(): void {
    clearInterval(this.#timer);
  }

  /** Scans once; resolves with the owned processes alive now. */
  scan(): Promise<ProcInfo[]> {
    this.#scanning ??= (async () => {
      try {
        const procs = await allProcs();
        const owned = new Set<number>([process.pid]);
        for (const p of procs) if (p.cmdline.includes(this.marker)) owned.add(p.pid);
        // Parents come before their children often, not always: repeat until nothing is added.
        for (let added = true; added; ) {
          added = false;
          for (const p of procs) {
            if (owned.has(p.pid) || !owned.has(p.ppid)) continue;
            owned.add(p.pid);
            added = true;
          }
        }
        owned.delete(process.pid);
        const alive = procs.filter((p) => owned.has(p.pid) && p.state !== 'Z');
        for (const p of alive) this.#seen.set(`${p.pid}:${p.start}`, p);
        return alive;
      } finally {
        this.#scanning = undefined;
      }
    })();
    return this.#scanning;
  }

  /** Owned processes alive now whose command line matches `pattern`. */
  async find(pattern: RegExp): Promise<ProcInfo[]> {
    return (await this.scan()).filter((p) => pattern.test(p.cmdline));
  }

  /** Processes seen during the run that are still alive. */
  async leftovers(): Promise<ProcInfo[]> {
    const alive: ProcInfo[] = [];
    for (const p of this.#seen.values()) if (await isAlive(p)) alive.push(p);
    return alive;
  }
}
