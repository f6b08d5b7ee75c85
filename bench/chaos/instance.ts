/**
 * The local Strongbox under test: `node dist/cli.js start` as a child of this process,
 * with its own STRONGBOX_HOME and config, its output appended to one log file; and the
 * CLI run beside it (`backup`, `list`, `status`, `pitr`), as `npm start`'s users run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CLI = resolve('dist/cli.js');

/** What a finished CLI command said. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `npm start` as a child: started, killed, frozen and restarted by the fault injector. */
export class StrongboxInstance {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #frozen = false;
  /** Starts (restarts included), and how many of those waited for never said "Ready." (killed, failed or too slow). */
  starts = 0;
  failedStarts = 0;

  constructor(
    private readonly options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
  ) {}

  /** The running child's pid, if any. */
  get pid(): number | undefined {
    return this.#child && this.#child.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /**
   * Spawns `npm start` (no-op while one runs) and waits until it printed "Ready." or
   * `timeoutMs` passed. Resolves false when it exited or was killed first.
   */
  async start(timeoutMs = 180_000): Promise<boolean> {
    if (!this.pid) this.#spawn();
    return this.waitReady(timeoutMs);
  }

  /** Spawns `npm start` without waiting for it (a storm may kill it while it starts). */
  spawnOnly(): void {
    if (!this.pid) this.#spawn();
  }

  #readyFrom = 0;

  #spawn(): void {
    this.starts++;
    this.#readyFrom = existsSync(this.options.logFile) ? statSync(this.options.logFile).size : 0;
    const fd = openSync(this.options.logFile, 'a');
    const child = spawn(process.execPath, [CLI, 'start'], { cwd: this.options.cwd, env: this.options.env, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    this.#child = child;
    this.#frozen = false;
    this.#exited = new Promise((done) => child.once('exit', () => done()));
  }

  /** Waits for the current child's "Ready." line (polling its log), false if it died or timed out. */
  async waitReady(timeoutMs = 180_000): Promise<boolean> {
    const child = this.#child;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!child || child !== this.#child || child.exitCode !== null || child.signalCode !== null) break;
      const text = (await readFile(this.options.logFile, 'utf8').catch(() => '')).slice(this.#readyFrom);
      if (/^Ready\./m.test(text)) return true;
      await sleep(200);
    }
    this.failedStarts++;
    return false;
  }

  /** kill -9 of `npm start` itself (its children live on, as after a real crash); resolves once it is reaped. */
  async kill9(): Promise<boolean> {
    const pid = this.pid;
    if (!pid) return false;
    process.kill(pid, 'SIGKILL');
    await this.#exited;
    this.#frozen = false;
    return true;
  }

  /** SIGSTOP: the endpoint and the catalog stop answering without closing their sockets. */
  freeze(): boolean {
    const pid = this.pid;
    if (!pid || this.#frozen) return false;
    process.kill(pid, 'SIGSTOP');
    this.#frozen = true;
    return true;
  }

  /** SIGCONT after freeze(). */
  thaw(): void {
    const pid = this.pid;
    if (pid && this.#frozen) process.kill(pid, 'SIGCONT');
    this.#frozen = false;
  }

  /** A clean stop (SIGTERM: drains, then stops), SIGKILL after `graceMs`. */
  async stop(graceMs = 90_000): Promise<void> {
    this.thaw();
    const pid = this.pid;
    if (!pid) return;
    process.kill(pid, 'SIGTERM');
    // A timer that outlives the stop would keep the run's process alive after its report.
    const grace = new AbortController();
    const killed = await Promise.race([this.#exited.then(() => false), sleep(graceMs, true, { signal: grace.signal }).catch(() => false)]);
    grace.abort();
    if (killed && this.pid) await this.kill9();
  }

  /** Runs the CLI to the end (killed after `timeoutMs`). */
  cli(args: string[], timeoutMs = 600_000): Promise<CliResult> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: this.options.cwd, env: this.options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8000)));
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), timeoutMs);
      child.once('error', fail);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        done({ code, signal, stdout, stderr });
      });
    });
  }

  /** Starts the CLI in its own process group and returns it, for a kill at a chosen moment. */
  spawnCli(args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: this.options.cwd, env: this.options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8000)));
    const done = new Promise<CliResult>((resolveDone) => child.once('close', (code, signal) => resolveDone({ code, signal, stdout, stderr })));
    return { child, done };
  }
}
