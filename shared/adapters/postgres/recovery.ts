/**
 * The server side of a point-in-time recovery: unpacking a base backup into a new data
 * directory (verifying its SHA-256 on the way), writing the recovery settings, starting
 * the server and waiting for it to promote. As root, files belong to and the server runs
 * as the `postgres` OS user.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, appendFile, chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { ChecksumMismatchError, StrongboxError } from '../../errors';
import { findBinDir, serverUserIds } from './cluster';
import { SERVER_OS_USER, isRoot, runAsServerUser, runCommand } from './process';
import type { StoredBaseBackup } from '../../ports/postgres';

const LOG_NAME = 'strongbox-recovery.log';
const MAX_SOCKET_DIR_LENGTH = 85;

function recoveryError(message: string, hint: string, cause?: unknown): StrongboxError {
  return new StrongboxError('RECOVERY_FAILED', message, hint, cause === undefined ? undefined : { cause });
}

/**
 * Makes `dataDir` an empty 0700 folder the server's user owns. Refuses a folder that holds
 * anything (never unpacks over a cluster), with PITR_TARGET_NOT_EMPTY.
 */
export async function prepareEmptyDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const entries = await readdir(dataDir);
  if (entries.length > 0) {
    throw new StrongboxError('PITR_TARGET_NOT_EMPTY', `${dataDir} is not empty (${entries.length} entries)`, 'recover into a new or empty folder; Strongbox never unpacks over an existing cluster');
  }
  if (isRoot()) {
    const { uid, gid } = await serverUserIds();
    await chown(dataDir, uid, gid);
    const probe = await runCommand('runuser', ['-u', SERVER_OS_USER, '--', 'test', '-w', dataDir]);
    if (probe.code !== 0) {
      throw new StrongboxError('PITR_TARGET_UNREACHABLE', `the ${SERVER_OS_USER} user cannot reach ${dataDir}`, 'put the data directory where every parent folder is traversable by that user (chmod o+x), e.g. under /var/lib/postgresql');
    }
  }
}

/**
 * Streams a stored base backup (`tar`, or `tar` through zstd) into `dataDir`, hashing the
 * stored bytes on the way. Bytes other than declared (a flipped byte, a short object)
 * remove everything that was unpacked and throw ChecksumMismatchError naming the backup
 * and the object — even when zstd or tar gave up on them first. `dataDir` must be
 * prepared (empty).
 *
 * @throws ChecksumMismatchError; RECOVERY_FAILED when the bytes are as declared but tar or
 *   zstd failed (disk full, or a backup written damaged); what the body's storage throws.
 */
export async function unpackBaseBackup(options: StoredBaseBackup & { dataDir: string }): Promise<void> {
  try {
    await readThroughTar(options, ['-x', '-f', '-', '-C', options.dataDir], isRoot());
  } catch (error) {
    await emptyFolder(options.dataDir);
    throw error;
  }
}

/**
 * Reads a stored base backup through SHA-256, zstd (when compressed) and `tar -t`: proof
 * that its bytes are the manifest's and that the archive reads to its end, without
 * writing anything. Returns the number of entries the archive lists.
 *
 * @throws as unpackBaseBackup.
 */
export async function readBaseBackup(options: StoredBaseBackup): Promise<{ entries: number }> {
  let entries = 0;
  await readThroughTar(options, ['-t', '-f', '-'], false, (chunk) => {
    for (const byte of chunk) if (byte === 0x0a) entries += 1;
  });
  return { entries };
}

/**
 * Feeds every byte of the body to the hash and, while they live, to zstd and tar. A tool
 * that stops early (it found the stream broken, or the disk is full) does not stop the
 * read: the rest is hashed too, so that the checksum decides what to report — damage in
 * storage wins over the tool's complaint (and never surfaces as a write EPIPE).
 */
async function readThroughTar(options: StoredBaseBackup, tarArgs: string[], asServerUser: boolean, onList?: (chunk: Buffer) => void): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tarStdout = onList ? 'pipe' : 'ignore';
  const tar = asServerUser ? spawn('runuser', ['-u', SERVER_OS_USER, '--', 'tar', ...tarArgs], { stdio: ['pipe', tarStdout, 'pipe'] }) : spawn('tar', tarArgs, { stdio: ['pipe', tarStdout, 'pipe'] });
  // zstd writes into tar's stdin itself (one OS pipe): the unpacked bytes never pass through
  // this process (~40 % of its CPU in an unpack; bench:drill's fetch phase). Its copy of the
  // pipe is then closed, so that tar sees the end when zstd exits (or zstd an EPIPE when tar dies).
  const zstd = options.compression === 'zstd' ? spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', tar.stdin!, 'pipe'] }) : undefined;
  if (zstd) tar.stdin!.destroy();
  const stderr: string[] = [];
  for (const child of [tar, zstd]) child?.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  if (onList) tar.stdout!.on('data', onList);
  const exited = (child: ReturnType<typeof spawn>, name: string) =>
    new Promise<void>((resolve, reject) => {
      child.on('error', (error) => reject(recoveryError(`cannot run ${name}`, `install ${name} (apt-get install ${name})`, error)));
      child.on('close', (code, signal) => (code === 0 ? resolve() : reject(recoveryError(`${name} failed on ${options.key} (${signal ?? `exit ${code}`}): ${stderr.join('').trim().slice(-500)}`, 'its bytes match the manifest, so the backup was written damaged, or the disk is full: check the disk, then recover from another base backup'))));
    });
  const done = Promise.allSettled([exited(tar, 'tar'), ...(zstd ? [exited(zstd, 'zstd')] : [])]);
  // A process that died early closes its stdin: the checksum, then the exit code, tell why.
  // (A dead tar makes zstd fail on its next write, which closes zstd's stdin the same way.)
  tar.stdin!.on('error', () => undefined);
  zstd?.stdin!.on('error', () => undefined);
  const sink = zstd ? zstd.stdin! : tar.stdin!;
  let broken = false;
  const markBroken = () => (broken = true);
  sink.on('error', markBroken).on('close', markBroken);
  try {
    for await (const chunk of options.body) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (!broken && !sink.write(chunk)) await writable(sink);
    }
    if (!broken) sink.end();
  } catch (error) {
    tar.kill('SIGKILL');
    zstd?.kill('SIGKILL');
    await done;
    throw error;
  }
  const outcomes = await done;
  const sha256 = hash.digest('hex');
  if (sha256 !== options.sha256 || (options.bytes !== undefined && bytes !== options.bytes)) {
    const declared = `${options.sha256}${options.bytes !== undefined ? ` (${options.bytes} bytes)` : ''}`;
    throw new ChecksumMismatchError(options.key, declared, `${sha256} (${bytes} bytes)`, options.backupId);
  }
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Resolves when `stream` takes writes again, or can take none any more. */
function writable(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const settle = () => {
      stream.off('drain', settle).off('error', settle).off('close', settle);
      resolve();
    };
    stream.on('drain', settle).on('error', settle).on('close', settle);
  });
}

async function emptyFolder(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, entry), { recursive: true, force: true });
}

/** Renders settings for postgresql.auto.conf, quoting values as PostgreSQL reads them. */
export function renderRecoverySettings(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => `${name} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`)
    .join('\n');
}

/**
 * Appends the recovery settings to postgresql.auto.conf (the last setting wins, so they
 * override whatever the backup carried, e.g. production's archive_command) and writes
 * recovery.signal. Files keep the server user's ownership.
 */
export async function writeRecoveryConfig(dataDir: string, settings: Record<string, string>): Promise<void> {
  const auto = join(dataDir, 'postgresql.auto.conf');
  const before = await readFile(auto, 'utf8').catch(() => '');
  await appendFile(auto, `${before.endsWith('\n') || before === '' ? '' : '\n'}# Point-in-time recovery by Strongbox.\n${renderRecoverySettings(settings)}\n`, { mode: 0o600 });
  const signal = join(dataDir, 'recovery.signal');
  await writeFile(signal, '', { mode: 0o600 });
  // A base backup taken from a standby may carry standby.signal: it would never promote.
  await rm(join(dataDir, 'standby.signal'), { force: true });
  if (isRoot()) {
    const { uid, gid } = await serverUserIds();
    await chown(auto, uid, gid);
    await chown(signal, uid, gid);
  }
}

/** The socket folder a recovered server should use: its data folder when short enough. */
export function socketDirFor(dataDir: string): string {
  return dataDir.length <= MAX_SOCKET_DIR_LENGTH ? dataDir : '/tmp';
}

/**
 * Starts the recovered server and waits until it has promoted (not merely accepts
 * connections: `pg_ctl -w` returns at consistency). Throws RECOVERY_FAILED with the log's
 * last lines when the server stops (e.g. WAL could not be fetched, or the target was not
 * reached) or when `timeoutMs` passes. Returns the seconds from start to promotion and the new timeline (when it could be read).
 */
export async function startAndAwaitPromotion(options: { dataDir: string; port: number; timeoutMs: number; binDir?: string }): Promise<{ seconds: number; logFile: string; timeline?: number }> {
  const binDir = options.binDir ?? (await findBinDir());
  const logFile = join(options.dataDir, LOG_NAME);
  const started = Date.now();
  const start = await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', options.dataDir, '-l', logFile, '-w', '-t', String(Math.ceil(options.timeoutMs / 1000)), '-s', 'start'], { cwd: options.dataDir });
  if (start.code !== 0) throw recoveryError(`the recovered server did not start: ${await logTail(logFile)}`, `read ${logFile}; a missing WAL segment stops recovery on purpose (nothing is promoted with data missing)`);
  const socketDir = socketDirFor(options.dataDir);
  const controlData = await access(join(binDir, 'pg_controldata'), constants.X_OK).then(() => true, () => false);
  for (;;) {
    if (await promoted(binDir, options.dataDir, controlData, socketDir, options.port)) {
      const seconds = (Date.now() - started) / 1000;
      // The new timeline, from the name of the segment now being written (when a role can log in).
      const tli = await psqlAsServer(socketDir, options.port, 'SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)');
      const timeline = tli && /^[0-9A-F]{8}$/.test(tli) ? parseInt(tli, 16) : undefined;
      return { seconds, logFile, ...(timeline !== undefined ? { timeline } : {}) };
    }
    const status = await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', options.dataDir, 'status'], { cwd: '/' });
    if (status.code !== 0) throw recoveryError(`recovery stopped before promotion: ${await logTail(logFile)}`, `read ${logFile}; fix the cause (e.g. bring the archive endpoint back) and run the recovery again into an empty folder`);
    if (Date.now() - started > options.timeoutMs) {
      throw recoveryError(`the recovered server did not promote within ${Math.round(options.timeoutMs / 1000)} s`, `it is still running in ${options.dataDir}; read ${logFile}, or stop it with pg_ctl -D ${options.dataDir} stop`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Whether the server has promoted: its control file says "in production" (no role has to
 * log in); where pg_controldata is not installed (the npm server packages ship only initdb,
 * pg_ctl and postgres), the server says it is no longer in recovery.
 */
async function promoted(binDir: string, dataDir: string, controlData: boolean, socketDir: string, port: number): Promise<boolean> {
  if (controlData) return (await clusterState(binDir, dataDir)) === 'in production';
  return (await psqlAsServer(socketDir, port, 'SELECT pg_is_in_recovery()')) === 'f';
}

/**
 * The cluster's state as its control file says ("in archive recovery", "in production"…),
 * read with pg_controldata as the server's OS user: no role has to log in, so the wait does
 * not depend on which roles the recovered cluster has or on its pg_hba.conf (the OS user of
 * an ECS task or a CLI user is rarely a role of the backed-up server).
 */
async function clusterState(binDir: string, dataDir: string): Promise<string | undefined> {
  const result = await runAsServerUser(join(binDir, 'pg_controldata'), ['-D', dataDir], { cwd: '/', env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
  if (result.code !== 0) return undefined;
  return /^Database cluster state:\s+(.+)$/m.exec(result.stdout)?.[1]?.trim();
}

/**
 * One value from the server over its Unix socket, or undefined when it cannot be asked: as
 * the "postgres" role first (the usual superuser of the backed-up server), then as the OS user's.
 */
async function psqlAsServer(socketDir: string, port: number, sql: string): Promise<string | undefined> {
  for (const role of ['postgres', undefined]) {
    const args = ['-X', '-A', '-t', '-h', socketDir, '-p', String(port), '-d', 'postgres', ...(role ? ['-U', role] : []), '-c', sql];
    const result = isRoot() ? await runCommand('runuser', ['-u', SERVER_OS_USER, '--', 'psql', ...args], { cwd: '/' }) : await runCommand('psql', args, { cwd: '/' });
    if (result.code === 0) return result.stdout.trim();
  }
  return undefined;
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-8).join('\n');
}
