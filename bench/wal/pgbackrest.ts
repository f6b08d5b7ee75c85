/**
 * pgBackRest, the peer the benchmarks compare with: one repository per stanza (posix, or S3
 * on an S3-compatible server through a TLS relay), with
 * its spool, lock and log folders, a pgbackrest.conf, and `stanza-create` against the
 * running cluster — everything owned by and run as the server's OS user, as PostgreSQL runs
 * archive-push. Debian's package: `apt-get install pgbackrest`.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { serverUserIds, type LocalCluster } from '../../shared/adapters/postgres/cluster';
import { serverEnv } from './drive';
import { chownToServer } from './source';

/** The stanza name every benchmark repository uses. */
export const STANZA = 'bench';

/** pgBackRest's version (e.g. '2.45'), or undefined when it is not installed. */
export async function pgbackrestVersion(): Promise<string | undefined> {
  if (!existsSync('/usr/bin/pgbackrest') && !process.env.PATH?.split(':').some((dir) => existsSync(join(dir, 'pgbackrest')))) return undefined;
  return promisify(execFile)('pgbackrest', ['version']).then(({ stdout }) => /pgBackRest (\S+)/.exec(stdout)?.[1] ?? '?', () => undefined);
}

/** One pgBackRest repository with its stanza created. */
export interface PgbackrestRepo {
  config: string;
  repoPath: string;
  /** `pgbackrest --config=… --stanza=bench [--pg1-path=…] [--archive-async --process-max=N] archive-push %p` */
  archiveCommand(options: { async: boolean; pgPath?: string; processMax?: number }): string;
  /** `pgbackrest … [--archive-async --process-max=N] archive-get %f "%p"` */
  restoreCommand(options: { async: boolean; pgPath: string; processMax?: number }): string;
  /** Empties the spool's archive/ (what an async archive-get queued ahead), once idle. */
  resetSpool(): Promise<void>;
  /** Waits (up to 30 s) until no pgBackRest process holds the stanza's archive lock (the async worker exited). */
  waitIdle(): Promise<void>;
  /** Bytes stored under the repository's archive/ (WAL) or backup/ folder. */
  storedBytes(part: 'archive' | 'backup'): Promise<number>;
}

/** Settings of the repository's config beyond paths: compress-type, compress-level, process-max… */
export type PgbackrestSettings = Record<string, string>;

/**
 * An S3 repository instead of a posix one: the bucket of an S3-compatible server behind a
 * TLS relay on 127.0.0.1 (pgBackRest speaks HTTPS only), path-style, `path` inside the
 * bucket; `storedBytes` counts through `list` (bytes under a key prefix).
 */
export interface PgbackrestS3 {
  port: number;
  bucket: string;
  path: string;
  list(prefix: string): Promise<number>;
}

/** The repository lines of an S3 repository (s3rver's fixed credentials; the relay's self-signed certificate is not verified). */
function s3Lines(s3: PgbackrestS3): string[] {
  return [
    'repo1-type=s3',
    `repo1-path=/${s3.path}`,
    'repo1-s3-endpoint=127.0.0.1',
    `repo1-storage-port=${s3.port}`,
    `repo1-s3-bucket=${s3.bucket}`,
    'repo1-s3-region=us-east-1',
    'repo1-s3-key=S3RVER',
    'repo1-s3-key-secret=S3RVER',
    'repo1-s3-uri-style=path',
    'repo1-storage-verify-tls=n',
  ];
}

/**
 * Creates `<dir>/{repo,spool,lock,log}` and `<dir>/pgbackrest.conf` for `cluster`, then runs
 * `stanza-create`.
 *
 * @throws Error with pgBackRest's output when stanza-create fails.
 */
export async function createPgbackrestRepo(dir: string, cluster: LocalCluster, settings: PgbackrestSettings, s3?: PgbackrestS3): Promise<PgbackrestRepo> {
  const folders = ['repo', 'spool', 'lock', 'log'].map((name) => join(dir, name));
  await mkdir(dir, { recursive: true });
  await chownToServer(dir);
  for (const folder of folders) {
    await mkdir(folder, { recursive: true });
    await chownToServer(folder);
  }
  const [repoPath = '', spool = '', lock = '', log = ''] = folders;
  const config = join(dir, 'pgbackrest.conf');
  const conn = cluster.connection();
  const lines = [
    '[global]',
    ...(s3 ? s3Lines(s3) : [`repo1-path=${repoPath}`]),
    `spool-path=${spool}`,
    `lock-path=${lock}`,
    `log-path=${log}`,
    'log-level-console=warn',
    'log-level-stderr=warn',
    'log-level-file=off',
    ...Object.entries(settings).map(([key, value]) => `${key}=${value}`),
    '',
    `[${STANZA}]`,
    `pg1-path=${cluster.dataDir}`,
    `pg1-port=${conn.port}`,
    `pg1-socket-path=${cluster.dataDir}`,
    '',
  ];
  await writeFile(config, lines.join('\n'), { mode: 0o644 });
  await runPgbackrest(['--config', config, `--stanza=${STANZA}`, 'stanza-create']);
  const waitIdle = async () => {
    for (let waited = 0; waited < 30_000; waited += 50) {
      const held = (await readdir(lock).catch(() => [] as string[])).some((name) => name.endsWith('.lock'));
      if (!held) return;
      await sleep(50);
    }
    throw new Error(`a pgBackRest process still holds a lock in ${lock} after 30 s`);
  };
  return {
    config,
    repoPath,
    archiveCommand(options) {
      const parts = ['pgbackrest', `--config=${config}`, `--stanza=${STANZA}`];
      if (options.pgPath) parts.push(`--pg1-path=${options.pgPath}`);
      if (options.async) parts.push('--archive-async', `--process-max=${options.processMax ?? 2}`);
      return [...parts, 'archive-push', '%p'].join(' ');
    },
    restoreCommand(options) {
      const parts = ['pgbackrest', `--config=${config}`, `--stanza=${STANZA}`, `--pg1-path=${options.pgPath}`];
      if (options.async) parts.push('--archive-async', `--process-max=${options.processMax ?? 2}`);
      return [...parts, 'archive-get', '%f', '"%p"'].join(' ');
    },
    async resetSpool() {
      await waitIdle();
      await rm(join(spool, 'archive'), { recursive: true, force: true });
    },
    waitIdle,
    storedBytes: (part) => (s3 ? s3.list(`${s3.path}/${part}/`) : folderBytes(join(repoPath, part))),
  };
}

/**
 * Runs pgbackrest with `args` as the server's OS user; resolves with its wall time in ms
 * and the peak RSS of its largest process (GNU time's %M) when /usr/bin/time exists.
 *
 * @throws Error with pgBackRest's stderr when it exits non-zero.
 */
export async function runPgbackrest(args: string[], signal?: AbortSignal): Promise<{ ms: number; peakRssBytes?: number }> {
  const ids = process.getuid?.() === 0 ? await serverUserIds() : undefined;
  const timed = existsSync('/usr/bin/time');
  const [command, argv] = timed ? ['/usr/bin/time', ['-f', 'STRONGBOX-BENCH-RSS %M', 'pgbackrest', ...args]] : ['pgbackrest', args];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv as string[], { cwd: '/', env: serverEnv(), stdio: ['ignore', 'ignore', 'pipe'], ...(ids ? { uid: ids.uid, gid: ids.gid } : {}) });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      const rss = /STRONGBOX-BENCH-RSS (\d+)/.exec(stderr)?.[1];
      if (code !== 0) return reject(new Error(`pgbackrest ${args.join(' ')} failed (exit ${code}): ${stderr.replace(/STRONGBOX-BENCH-RSS \d+/, '').trim()}`));
      resolve(rss ? { ms, peakRssBytes: Number(rss) * 1024 } : { ms });
    });
  });
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!entry.isFile() || entry.name.endsWith('.info') || entry.name.endsWith('.copy')) continue;
    total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
