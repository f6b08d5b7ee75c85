/**
 * Shared pieces of the WAL host tests: the bundle built by scripts/build-wal.mjs into a
 * temporary folder, synthetic WAL segments with a valid long header, host configs, and
 * running the bundle as a real child process (exit codes are the contract under test).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { segmentName } from '../../shared/domain/wal/names';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MIB = 1 << 20;
export const SYSTEM_ID = '7311234567890123456';

/** A temporary folder every user can traverse (the postgres user runs the scripts). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

/** Builds dist-like `wal.js` into `dir` with the real build script; resolves its path. */
export async function buildBundle(dir: string): Promise<string> {
  const outfile = join(dir, 'wal.js');
  await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build-wal.mjs'), outfile], { cwd: ROOT });
  await chmod(outfile, 0o644);
  return outfile;
}

/** The name of segment `segno` on timeline 1 with 1 MiB segments (the tests' size). */
export function seg(segno: number, timeline = 1): string {
  return segmentName(timeline, BigInt(segno), MIB);
}

/**
 * A WAL segment as PostgreSQL 15 writes it: a long page header naming `systemId`, the
 * segment size and the page address of `name`, then half random and half zero bytes.
 */
export function makeSegment(segno: number, options: { systemId?: string; timeline?: number; size?: number } = {}): Buffer {
  const size = options.size ?? MIB;
  const bytes = Buffer.alloc(size);
  randomBytes(size >> 1).copy(bytes, 64);
  bytes.writeUInt16LE(0xd110, 0);
  bytes.writeUInt16LE(0x0002, 2);
  bytes.writeUInt32LE(options.timeline ?? 1, 4);
  bytes.writeBigUInt64LE(BigInt(segno) * BigInt(size), 8);
  bytes.writeBigUInt64LE(BigInt(options.systemId ?? SYSTEM_ID), 24);
  bytes.writeUInt32LE(size, 32);
  bytes.writeUInt32LE(8192, 36);
  return bytes;
}

/** A data directory with `pg_wal/archive_status`. */
export async function makeDataDir(base: string): Promise<{ dataDir: string; walDir: string }> {
  const dataDir = join(base, 'data');
  const walDir = join(dataDir, 'pg_wal');
  await mkdir(join(walDir, 'archive_status'), { recursive: true });
  return { dataDir, walDir };
}

/** Writes segment `segno` into pg_wal with its `.ready` file; resolves its name. */
export async function readySegment(walDir: string, segno: number, bytes = makeSegment(segno)): Promise<string> {
  const name = seg(segno);
  await writeFile(join(walDir, name), bytes);
  await writeFile(join(walDir, 'archive_status', `${name}.ready`), '');
  return name;
}

/** Writes a host config and its token file into `dir`; resolves the config path. */
export async function writeHostConfig(dir: string, endpoint: { url: string; token: string }, extra: Record<string, unknown> = {}): Promise<string> {
  const tokenFile = join(dir, 'archive.token');
  await writeFile(tokenFile, `${endpoint.token}\n`, { mode: 0o600 });
  const path = join(dir, 'wal.json');
  const config = { database: 'app', endpoint: endpoint.url, auth: { type: 'token', tokenFile }, spool: join(dir, 'spool'), compression: 'zstd', ...extra };
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** What a finished child left behind. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `command args` to completion (cwd: the data directory, as PostgreSQL does). */
export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return start(command, args, options).result;
}

/** Starts `command args`: its pid, and what it left behind once finished. */
export function start(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { pid: number; result: Promise<RunResult> } {
  const started = performance.now();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const result = new Promise<RunResult>((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - started }));
  });
  return { pid: child.pid ?? -1, result };
}

/**
 * Resolves the pid of a `sleep` child of the shell script `pid` that is not in `seen`: the
 * script is in its wait loop (an event, whatever the machine's load). Linux's /proc.
 */
export async function sleeping(pid: number, seen: ReadonlySet<number> = new Set()): Promise<number> {
  let found: number | undefined;
  await waitFor(`script ${pid} to wait`, async () => {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
    for (const child of children) {
      if (seen.has(child)) continue;
      if ((await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim() === 'sleep') found = child;
    }
    return found !== undefined;
  });
  return found!;
}

/** Runs the bundle. */
export function runWal(bundle: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [bundle, ...args], options);
}

/** Polls `check` until it is true; throws after `ms` (a safety net for a loaded machine, never a measure). */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Removes a folder tree. */
export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}
