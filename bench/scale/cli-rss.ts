/**
 * bench:scale, part 2: peak RSS of Strongbox's own process for a backup, a restore and a
 * validate as the database grows, each run as the CLI a user runs (`dist/cli.js`) against
 * the S3 path (s3rver in a child process), with the catalog in the CLI's process as in
 * local mode. The peak is the kernel's high-water mark of the program's own memory (VmHWM
 * at exit), not a sampler's; pg_dump / pg_restore and the scratch server are other processes
 * and do not count.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PgConnection } from '../../shared/ports/postgres';

/** Where the CLI runs: its home (catalog, config) and the S3-compatible server it stores to. */
export interface CliWorld {
  home: string;
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
}

/** One CLI run: wall time and the node process's peak RSS. */
export interface CliRun {
  ms: number;
  peakRssBytes: number;
  stdout: string;
}

// VmHWM of /proc/self/status, not getrusage's maxRSS: Linux carries ru_maxrss over an exec from
// the forked parent (the benchmark, holding hundreds of MB), while VmHWM belongs to this program alone.
const HOOK = `import { readFileSync, writeFileSync } from 'node:fs';
process.on('exit', () => {
  if (!process.env.SBX_RSS_FILE) return;
  const kib = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  writeFileSync(process.env.SBX_RSS_FILE, String(Number(kib) * 1024));
});
`;

/** Writes the home's config (S3 storage on the given server) and the exit hook that reports the peak RSS. */
export async function prepareCliWorld(world: CliWorld): Promise<void> {
  await mkdir(world.home, { recursive: true });
  const config = { storage: { type: 's3', bucket: world.s3.bucket, endpoint: world.s3.endpoint, forcePathStyle: true, region: 'us-east-1' } };
  await writeFile(join(world.home, 'strongbox.config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFile(join(world.home, 'rss-hook.mjs'), HOOK);
}

/** The URL of a benchmark connection (trust authentication on loopback: no password). */
export function connectionUrl(conn: PgConnection, database = conn.database): string {
  return `postgresql://${encodeURIComponent(conn.user)}@${conn.host}:${conn.port}/${encodeURIComponent(database)}`;
}

/**
 * Runs `strongbox <args>` in the world's home and resolves with its time and peak RSS.
 *
 * @throws Error with the CLI's stderr tail when it exits non-zero or is stopped by `signal`.
 */
export async function runCli(world: CliWorld, args: string[], signal?: AbortSignal): Promise<CliRun> {
  const rssFile = join(world.home, `rss-${process.pid}-${Date.now()}.txt`);
  const cli = resolve('dist/cli.js');
  const env = {
    ...process.env,
    STRONGBOX_HOME: join(world.home, '.strongbox'),
    STRONGBOX_CONFIG: join(world.home, 'strongbox.config.json'),
    AWS_ACCESS_KEY_ID: world.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: world.s3.secretAccessKey,
    AWS_REGION: 'us-east-1',
    NODE_OPTIONS: '--openssl-legacy-provider',
    SBX_RSS_FILE: rssFile,
  };
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', join(world.home, 'rss-hook.mjs'), cli, ...args], { cwd: world.home, env, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  const [code] = (await once(child, 'close')) as [number | null];
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`strongbox ${args[0] ?? ''} exited ${code}: ${stderr.trim().split('\n').slice(-8).join('\n')}`);
  const peakRssBytes = Number(await readFile(rssFile, 'utf8'));
  return { ms, peakRssBytes, stdout };
}
