/**
 * The server side of a scratch recovery (a drill, a table as it was): a recovered cluster that
 * listens on nothing but a private Unix socket, stops at its target paused (a hot standby that
 * can be read there, and moved on to a later target), and is promoted or thrown away. As root,
 * files belong to and the server runs as the `postgres` OS user.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedMajors, serverMajorFor } from '../../domain/pg-majors';
import { StrongboxError } from '../../errors';
import { connectClient } from './client';
import { findBinDir, serverUserIds } from './cluster';
import { renderRecoverySettings } from './recovery';
import { isRoot, runAsServerUser } from './process';
import type { PgConnection } from '../../ports/postgres';

const LOG_NAME = 'strongbox-recovery.log';
const POLL_MS = 200;

function recoveryError(message: string, hint: string, cause?: unknown): StrongboxError {
  return new StrongboxError('RECOVERY_FAILED', message, hint, cause === undefined ? undefined : { cause });
}

/** Where a scratch server is reached: a private socket folder (0700, the server's user's). */
export interface ScratchSocket {
  socketDir: string;
  port: number;
}

/**
 * A new short socket folder under the system's temporary folder that only the server's OS user
 * (and root) may enter: the scratch trusts every local login on it, so nobody else may reach it.
 */
export async function prepareSocketDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-sock-'));
  await chmod(dir, 0o700);
  if (isRoot()) {
    const { uid, gid } = await serverUserIds();
    await chown(dir, uid, gid);
  }
  return dir;
}

/**
 * Replaces the recovered cluster's pg_hba.conf (production's rules, production's passwords) by
 * one line: any role over the private socket, trusted. With `listen_addresses = ''` set by the
 * caller, the scratch has no network door at all.
 */
export async function restrictToSocket(dataDir: string): Promise<void> {
  const file = join(dataDir, 'pg_hba.conf');
  await writeFile(file, '# A Strongbox scratch recovery: its private Unix socket only.\nlocal all all trust\n', { mode: 0o600 });
  if (isRoot()) {
    const { uid, gid } = await serverUserIds();
    await chown(file, uid, gid);
  }
}

/** The settings a scratch recovery appends (the last one wins over what the backup carried). */
export function scratchSettings(socket: ScratchSocket, fast: boolean): Record<string, string> {
  return {
    port: String(socket.port),
    listen_addresses: '',
    unix_socket_directories: socket.socketDir,
    archive_mode: 'off',
    archive_command: '',
    hot_standby: 'on',
    recovery_target_action: 'pause',
    // Extensions the primary preloads may not be installed where the drill runs; nothing here needs them.
    shared_preload_libraries: '',
    ...(fast ? { fsync: 'off' } : {}),
  };
}

/**
 * Appends `settings` to postgresql.auto.conf (a later block wins over an earlier one). Lines
 * naming a setting of `replacing` are removed first: PostgreSQL refuses two recovery targets
 * of different kinds, even when one of them is set to ''.
 */
export async function appendSettings(dataDir: string, settings: Record<string, string>, why: string, replacing?: RegExp): Promise<void> {
  const auto = join(dataDir, 'postgresql.auto.conf');
  const text = await readFile(auto, 'utf8').catch(() => '');
  const before = replacing ? text.split('\n').filter((line) => !replacing.test(line)).join('\n') : text;
  await writeFile(auto, `${before}${before.endsWith('\n') || before === '' ? '' : '\n'}# ${why}\n${renderRecoverySettings(settings)}\n`, { mode: 0o600 });
  if (isRoot()) {
    const { uid, gid } = await serverUserIds();
    await chown(auto, uid, gid);
  }
}

/** The connection to `database` on the scratch as `user` (trusted over the private socket). */
export function scratchConnection(socket: ScratchSocket, user: string, database: string): PgConnection {
  return { host: socket.socketDir, port: socket.port, user, database };
}

interface ReplayState {
  inRecovery: boolean;
  paused: boolean;
  lsn: string;
}

/** What the server says about its replay; 'refused' when the role cannot log in; undefined when it cannot be asked yet. */
async function replayState(conn: PgConnection): Promise<ReplayState | 'refused' | undefined> {
  let client;
  try {
    client = await connectClient(conn);
  } catch (error) {
    return error instanceof StrongboxError && error.code === 'DB_AUTH_FAILED' ? 'refused' : undefined;
  }
  try {
    const result = await client.query<{ rec: boolean; state: string | null; lsn: string | null }>(
      `SELECT pg_catalog.pg_is_in_recovery() AS rec,
              CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_get_wal_replay_pause_state() END AS state,
              pg_catalog.pg_last_wal_replay_lsn()::text AS lsn`,
    );
    const row = result.rows[0];
    return row ? { inRecovery: row.rec, paused: row.state === 'paused', lsn: row.lsn ?? '' } : undefined;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Asks the scratch as each role of `users` in turn (the probe must not depend on the OS user
 * this process runs as: `node` in the task) until one logs in.
 *
 * @throws RECOVERY_FAILED when every role is refused (none exists in the recovered cluster).
 */
async function askAsAnyOf(socket: ScratchSocket, users: readonly string[]): Promise<{ state?: ReplayState; user?: string }> {
  let refused = 0;
  for (const user of users) {
    const answer = await replayState(scratchConnection(socket, user, 'template1'));
    if (answer === 'refused') {
      refused += 1;
      continue;
    }
    return answer ? { state: answer, user } : {};
  }
  if (refused > 0 && refused === users.length) {
    throw recoveryError(`the recovered cluster has none of the roles ${users.join(', ')}`, 'the scratch is asked as "postgres" or the role given (--role, or the target\'s user): one of them must exist in the backed-up server');
  }
  return {};
}

/** What startPaused and resumeTo need. */
export interface PausedStart {
  dataDir: string;
  socket: ScratchSocket;
  /** Roles of the recovered cluster to ask with, in order (e.g. postgres, then the target's user). */
  users: readonly string[];
  /** Recovery to the end of the archive (no target) promotes instead of pausing: that is its end too. */
  promotedIsDone?: boolean;
  timeoutMs: number;
  binDir?: string;
  signal?: AbortSignal;
  onReplay?: (lsn: string) => void;
}

/**
 * Starts the recovered server and waits until its replay is paused at the recovery target
 * (`recovery_target_action = pause`). Returns the seconds from start to pause.
 *
 * @throws RECOVERY_FAILED with the log's last lines when the server stops first (a segment that
 *   could not be fetched or is damaged, a target the archive does not reach), when it promoted
 *   instead, or after `timeoutMs`; the signal's reason when it aborts.
 */
export async function startPaused(options: PausedStart): Promise<{ seconds: number; logFile: string; user: string }> {
  const binDir = options.binDir ?? (await findBinDir());
  const logFile = join(options.dataDir, LOG_NAME);
  const started = Date.now();
  const start = await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', options.dataDir, '-l', logFile, '-w', '-t', String(Math.ceil(options.timeoutMs / 1000)), '-s', 'start'], { cwd: options.dataDir });
  if (start.code !== 0) throw recoveryError(`the recovered server did not start: ${await logTail(logFile)}`, `read ${logFile}; a missing or damaged WAL segment stops recovery on purpose`);
  let users = options.users;
  for (;;) {
    options.signal?.throwIfAborted();
    const { state, user } = await askAsAnyOf(options.socket, users);
    if (user) users = [user];
    const done = (): { seconds: number; logFile: string; user: string } => ({ seconds: (Date.now() - started) / 1000, logFile, user: user ?? users[0]! });
    if (state?.lsn) options.onReplay?.(state.lsn);
    if (state?.paused) return done();
    if (state && !state.inRecovery && options.promotedIsDone) return done();
    if (state && !state.inRecovery) throw recoveryError('the recovered server promoted instead of pausing at its target', `read ${logFile}`);
    if (state === undefined && !(await isRunning(binDir, options.dataDir))) {
      throw recoveryError(`recovery stopped before its target: ${await logTail(logFile)}`, `read ${logFile}; a WAL segment that cannot be fetched or fails its checks stops recovery, so does an archive that ends before the target`);
    }
    if (Date.now() - started > options.timeoutMs) throw recoveryError(`the recovered server did not reach its target within ${Math.round(options.timeoutMs / 1000)} s`, `read ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Moves a paused scratch on to a later target: a fast shutdown (a restartpoint keeps what was
 * replayed), the new target's settings appended, and startPaused again.
 */
export async function resumeTo(options: PausedStart & { settings: Record<string, string> }): Promise<{ seconds: number; logFile: string; user: string }> {
  const binDir = options.binDir ?? (await findBinDir());
  await stopServer(options.dataDir, 'fast', binDir);
  await appendSettings(options.dataDir, options.settings, 'Strongbox: the next target of this scratch recovery.', /^\s*recovery_target\w*\s*=/);
  return startPaused({ ...options, binDir, promotedIsDone: false });
}

/** Ends recovery (pg_promote, waiting) so that the scratch can be written to (e.g. by pg_amcheck's extension). */
export async function promoteScratch(conn: PgConnection, timeoutSeconds = 300): Promise<void> {
  const client = await connectClient(conn);
  try {
    const result = await client.query<{ done: boolean }>('SELECT pg_catalog.pg_promote(true, $1) AS done', [timeoutSeconds]);
    if (result.rows[0]?.done !== true) throw recoveryError(`the scratch did not promote within ${timeoutSeconds} s`, 'read its log');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Stops the server (`immediate`: a scratch keeps nothing). @throws RECOVERY_FAILED when pg_ctl fails on a running server. */
export async function stopServer(dataDir: string, mode: 'fast' | 'immediate', binDir?: string): Promise<void> {
  const bin = binDir ?? (await findBinDir());
  if (!(await isRunning(bin, dataDir))) return;
  const stop = await runAsServerUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-s', 'stop'], { cwd: '/' });
  if (stop.code !== 0 && (await isRunning(bin, dataDir))) throw recoveryError(`pg_ctl could not stop the scratch in ${dataDir}: ${stop.stderr.trim()}`, `stop it with pg_ctl -D ${dataDir} stop -m immediate`);
}

/** Stops the scratch and deletes its folders. */
export async function destroyScratch(dataDir: string, socketDir: string, folder: string, binDir?: string): Promise<void> {
  await stopServer(dataDir, 'immediate', binDir);
  await rm(folder, { recursive: true, force: true });
  await rm(socketDir, { recursive: true, force: true });
}

const PG_ROOT = '/usr/lib/postgresql';

/**
 * The bin folder of the server that runs a cluster recovered from a base backup of PostgreSQL
 * `major`: exactly that major under /usr/lib/postgresql (the task image installs every
 * supported one side by side), never merely the newest installed.
 *
 * @throws StrongboxError PG_VERSION_MISMATCH when it is not installed, or `major` is unknown (shared/domain/pg-majors.ts).
 */
export async function serverBinDir(major: number | undefined): Promise<string> {
  const folders = await readdir(PG_ROOT).catch(() => [] as string[]);
  const withServer = folders.filter((folder) => existsSync(join(PG_ROOT, folder, 'bin', 'postgres')));
  return join(PG_ROOT, String(serverMajorFor(major, installedMajors(withServer))), 'bin');
}

async function isRunning(binDir: string, dataDir: string): Promise<boolean> {
  const status = await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', dataDir, 'status'], { cwd: '/' });
  return status.code === 0;
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-8).join('\n');
}
