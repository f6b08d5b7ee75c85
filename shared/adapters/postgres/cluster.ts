/**
 * A throwaway PostgreSQL cluster built from the machine's binaries, for local mode, restore
 * drills and tests. It listens on 127.0.0.1 only; as root, it runs as the `postgres` user.
 */
import { access, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { StrongboxError } from '../../errors';
import { quoteIdent } from '../../domain/table-pattern';
import { SERVER_OS_USER, isRoot, runAsServerUser, runCommand } from './process';
import { toolEnv } from './tool-stream';
import type { PgConnection } from '../../ports/postgres';

/** Options of LocalCluster.create. */
export interface LocalClusterOptions {
  /** Empty or absent folder for the cluster's files. */
  dataDir: string;
  /** 0 or absent: a free port is picked. */
  port?: number;
  /** The `postgres` superuser's password; with it TCP logins need scram-sha-256, without it they are trusted. */
  superuserPassword?: string;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string>;
  /** `initdb -N` and `fsync=off`: faster, and unsafe for data anyone needs. */
  fastTestMode?: boolean;
  /** Folder of initdb, pg_ctl and postgres; default: the newest /usr/lib/postgresql/N/bin. */
  binDir?: string;
}

const CONF_FILE = 'strongbox.conf';
const LOG_FILE = 'server.log';
/** Room for `/.s.PGSQL.65535.lock` within the 107 bytes of a Unix socket path. */
const MAX_SOCKET_DIR_LENGTH = 85;

/** A local cluster; every method throws StrongboxError (code LOCAL_CLUSTER_FAILED) with a hint. */
export class LocalCluster {
  private constructor(
    readonly dataDir: string,
    private port: number,
    private readonly password: string | undefined,
    private readonly binDir: string,
  ) {}

  /** Runs initdb into `options.dataDir`, configures it and starts the server. */
  static async create(options: LocalClusterOptions): Promise<LocalCluster> {
    const dataDir = resolve(options.dataDir);
    const binDir = options.binDir ?? (await findBinDir());
    await prepareDataDir(dataDir);
    await initdb(binDir, dataDir, options);
    const method = options.superuserPassword === undefined ? 'trust' : 'scram-sha-256';
    await writeOwned(
      join(dataDir, 'pg_hba.conf'),
      `# Written by Strongbox: local peers, and TCP from 127.0.0.1 only.\nlocal all all peer\nlocal replication all peer\n` +
        `host all all 127.0.0.1/32 ${method}\nhost replication all 127.0.0.1/32 ${method}\n`,
    );
    const conf = await readFile(join(dataDir, 'postgresql.conf'), 'utf8');
    await writeOwned(join(dataDir, 'postgresql.conf'), `${conf}\ninclude_if_exists = '${CONF_FILE}'\n`);
    const cluster = new LocalCluster(dataDir, options.port || (await freePort()), options.superuserPassword, binDir);
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dataDir.length <= MAX_SOCKET_DIR_LENGTH ? dataDir : '',
      ...(options.fastTestMode ? { fsync: 'off' } : {}),
      ...options.settings,
    };
    // A port picked free may be taken before the server binds it: pick again.
    for (let attempt = 1; ; attempt++) {
      await writeOwned(join(dataDir, CONF_FILE), renderSettings({ ...settings, port: String(cluster.port) }));
      try {
        await cluster.start();
        return cluster;
      } catch (error) {
        const portTaken = /could not bind|address already in use/i.test(await cluster.logTail());
        if (options.port || !portTaken || attempt >= 3) throw error;
        cluster.port = await freePort();
      }
    }
  }

  /** A cluster created earlier in `dataDir` (not started by this call). */
  static async open(dataDir: string, options: { superuserPassword?: string; binDir?: string } = {}): Promise<LocalCluster> {
    const dir = resolve(dataDir);
    const conf = await readFile(join(dir, CONF_FILE), 'utf8').catch((error: unknown) => {
      throw clusterError(`${dir} holds no cluster created by Strongbox`, 'create one with LocalCluster.create (or `strongbox` local mode)', error);
    });
    const port = [...conf.matchAll(/^port = '(\d+)'$/gm)].pop()?.[1];
    if (!port) throw clusterError(`${join(dir, CONF_FILE)} names no port`, 'recreate the cluster');
    return new LocalCluster(dir, Number(port), options.superuserPassword, options.binDir ?? (await findBinDir()));
  }

  /** Starts the server and waits until it accepts connections. No-op if it runs. */
  async start(): Promise<void> {
    if (await this.isRunning()) return;
    const result = await runAsServerUser(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, '-l', join(this.dataDir, LOG_FILE), '-w', '-t', '60', '-s', 'start'], { cwd: this.dataDir });
    if (result.code !== 0) {
      throw clusterError(`PostgreSQL in ${this.dataDir} did not start: ${(result.stderr.trim() + '\n' + (await this.logTail())).trim()}`, `read ${join(this.dataDir, LOG_FILE)}`);
    }
  }

  /** Stops the server (fast: disconnects clients, clean shutdown). No-op if it is not running. */
  async stop(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!(await this.isRunning())) return;
    const result = await runAsServerUser(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', '-s', 'stop'], { cwd: this.dataDir });
    if (result.code !== 0) throw clusterError(`PostgreSQL in ${this.dataDir} did not stop: ${result.stderr.trim()}`, `read ${join(this.dataDir, LOG_FILE)}`);
  }

  /** True when a postmaster runs on this data folder. */
  async isRunning(): Promise<boolean> {
    const result = await runAsServerUser(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, 'status'], { cwd: '/' });
    return result.code === 0;
  }

  /** How to reach `database` as the superuser over TCP on 127.0.0.1. */
  connection(database = 'postgres'): PgConnection {
    const conn: PgConnection = { host: '127.0.0.1', port: this.port, user: 'postgres', database };
    if (this.password !== undefined) conn.password = this.password;
    return conn;
  }

  /** Creates a database (quoted: the name keeps its case). */
  async createDatabase(name: string): Promise<void> {
    await this.psql(`CREATE DATABASE ${quoteIdent(name)};`);
  }

  /**
   * Runs SQL through psql (statements one by one, so CREATE DATABASE works) and returns the
   * unaligned, tuples-only output. Stops at the first error and throws it.
   */
  async psql(sql: string, database = 'postgres'): Promise<string> {
    const result = await runCommand('psql', ['-X', '-q', '-A', '-t', '--no-password', '-v', 'ON_ERROR_STOP=1', '-f', '-'], {
      env: toolEnv(this.connection(database)),
      input: sql,
    }).catch((error: unknown) => {
      throw clusterError('cannot run psql', 'install the PostgreSQL client tools (apt-get install postgresql-client-15)', error);
    });
    if (result.code !== 0) throw clusterError(`psql on database ${database} failed: ${result.stderr.trim()}`, 'check the SQL');
    return result.stdout;
  }

  /** Stops the server and deletes the data folder. */
  async destroy(): Promise<void> {
    await this.stop('immediate');
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private async logTail(): Promise<string> {
    const log = await readFile(join(this.dataDir, LOG_FILE), 'utf8').catch(() => '');
    return log.trimEnd().split('\n').slice(-10).join('\n');
  }
}

function clusterError(message: string, hint: string, cause?: unknown): StrongboxError {
  return new StrongboxError('LOCAL_CLUSTER_FAILED', message, hint, cause === undefined ? undefined : { cause });
}

/** The bin folder of the newest PostgreSQL server installed under /usr/lib/postgresql. */
export async function findBinDir(): Promise<string> {
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  for (const version of versions.sort((a, b) => Number(b) - Number(a))) {
    const dir = join('/usr/lib/postgresql', version, 'bin');
    if (await access(join(dir, 'initdb'), constants.X_OK).then(() => true, () => false)) return dir;
  }
  throw clusterError('initdb was not found in /usr/lib/postgresql/*/bin', 'install the server: apt-get install postgresql-15 (or pass binDir)');
}

async function prepareDataDir(dataDir: string): Promise<void> {
  // Parents get the default mode (the server's user must traverse them); the folder itself is private.
  await mkdir(dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw clusterError(`cannot create ${dataDir}: ${error.message}`, 'check the permissions of its parent folder', error);
  });
  if ((await readdir(dataDir)).length > 0) throw clusterError(`${dataDir} is not empty`, 'pick an empty folder, or LocalCluster.open() an existing cluster');
  if (!isRoot()) return;
  const { uid, gid } = await serverUserIds();
  await chown(dataDir, uid, gid);
  const probe = await runCommand('runuser', ['-u', SERVER_OS_USER, '--', 'test', '-w', dataDir]);
  if (probe.code !== 0) {
    throw clusterError(`the ${SERVER_OS_USER} user cannot reach ${dataDir}`, 'put the data folder where every parent folder is traversable (chmod o+x), e.g. under /tmp or /var/lib');
  }
}

async function initdb(binDir: string, dataDir: string, options: LocalClusterOptions): Promise<void> {
  const args = ['-D', dataDir, '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-instructions', '--auth-local=peer'];
  args.push(`--auth-host=${options.superuserPassword === undefined ? 'trust' : 'scram-sha-256'}`);
  if (options.fastTestMode) args.push('--no-sync');
  let pwDir: string | undefined;
  try {
    if (options.superuserPassword !== undefined) {
      // initdb reads the password from a file: argv would show it to every local user.
      pwDir = await mkdtemp(join(tmpdir(), 'strongbox-pw-'));
      const pwFile = join(pwDir, 'pw');
      await writeFile(pwFile, `${options.superuserPassword}\n`, { mode: 0o600 });
      if (isRoot()) {
        const { uid, gid } = await serverUserIds();
        await chown(pwDir, uid, gid);
        await chown(pwFile, uid, gid);
      }
      args.push(`--pwfile=${pwFile}`);
    }
    const result = await runAsServerUser(join(binDir, 'initdb'), args, { cwd: dataDir }).catch((error: unknown) => {
      throw clusterError(`cannot run initdb from ${binDir}`, 'install the server: apt-get install postgresql-15', error);
    });
    if (result.code !== 0) throw clusterError(`initdb failed in ${dataDir}: ${result.stderr.trim()}`, 'check the data folder (empty, writable by the postgres user) and disk space');
  } finally {
    if (pwDir) await rm(pwDir, { recursive: true, force: true });
  }
}

/** Writes a file the server will read, owned by its OS user. */
export async function writeOwned(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  if (!isRoot()) return;
  const { uid, gid } = await serverUserIds();
  await chown(path, uid, gid);
}

function renderSettings(settings: Record<string, string>): string {
  const lines = Object.entries(settings).map(([name, value]) => `${name} = '${value.replace(/'/g, "''")}'`);
  return `# Written by Strongbox.\n${lines.join('\n')}\n`;
}

let serverIds: Promise<{ uid: number; gid: number }> | undefined;
/** uid and gid of the server's OS user (for chown when running as root). */
export function serverUserIds(): Promise<{ uid: number; gid: number }> {
  serverIds ??= Promise.all([runCommand('id', ['-u', SERVER_OS_USER]), runCommand('id', ['-g', SERVER_OS_USER])]).then(([u, g]) => {
    if (u.code !== 0 || g.code !== 0) throw clusterError(`there is no ${SERVER_OS_USER} OS user`, 'install postgresql-15 (it creates the user), or run as a non-root user');
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  });
  return serverIds;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
