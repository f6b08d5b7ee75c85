import { link as fsLink, mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ArchiveClient } from './client';
import { chooseCodec, type CodecOptions } from './codec';
import type { HostConfig } from './config';
import { fileIdentity } from './identity';
import { logError, logLine, processUsage } from './log';
import { pushFile, walFileAt } from './push-file';
import { ZstdWorker } from './zstd-workers';
import { handoffFor } from './handoff';
import { acquireLock, exists, holdsLock, rotateLog, readSmall, releaseLock, removeQuietly, sleep, writeAtomic } from './spool';
import { scanReady } from './ready-queue';
import { busyPath, linkMarkerPath, markerPath, ownerAlive, ownerLine, pidExists, pushingPath, scratchPath, SPOOL } from './spool-protocol';

/**
 * The asynchronous uploader: pushes the `.ready` files of pg_wal ahead of PostgreSQL's
 * archiver, oldest first and in parallel, and leaves `out/<name>.ok` holding the identity
 * of each file the endpoint confirmed, so that the archiver's own wal-push returns at once.
 * One per spool (`uploader.pid`); it exits after a quiet period.
 */

/** Options for tests. */
export interface UploaderOptions {
  client?: ArchiveClient;
  codec?: CodecOptions;
}

const CLEAN_EVERY_MS = 5_000;
/** How often the uploader checks that its cluster's postmaster still runs. */
const CLUSTER_CHECK_MS = 1_000;
const NO_POSTMASTER_PID = 'no postmaster.pid';
const MAX_BACKOFF_MS = 60_000;
/** How many of the oldest pushable files one scan of pg_wal queues, and how long the queue is trusted. */
const QUEUE_SIZE = 64;
const RESCAN_MS = 2_000;

/**
 * Runs the uploader for the pg_wal folder `walDir` until it has been idle for
 * `config.uploader.idleExitMs`, or another process took its pid file. Resolves quietly when
 * another uploader already runs. Push failures are logged and retried with backoff;
 * throws only when the spool itself is unusable.
 */
export async function runUploader(config: HostConfig, walDir: string, options: UploaderOptions = {}): Promise<void> {
  const { spool } = config;
  if (!(await acquireLock(spool, 'uploader'))) return;
  logLine('info', 'uploader started', { pid: process.pid, walDir });
  const client = options.client ?? new ArchiveClient(config);
  const scratchDir = scratchPath(spool);
  await mkdir(scratchDir, { recursive: true });
  // Markers and notes go to out/ (the wal-push script may have started us before any wal-push made it).
  await mkdir(join(spool, 'out'), { recursive: true });
  await rotateLog(spool, 'uploader');
  const fast = config.fastPaths;
  // The codec is chosen here, once. With the zstd addon, reading, compression and hashing run
  // on one worker thread: a second one cost ~10 MiB of RSS (over the 100 MB goal with 16 MiB
  // segments) and gained nothing measurable on the S3 path (docs/benchmarks.md).
  const chosen = chooseCodec(config.compression, options.codec ?? {});
  const addon = config.compression === 'zstd' && fast.worker ? chosen.native?.path : undefined;
  const worker = addon ? new ZstdWorker(addon) : undefined;
  const handoff = handoffFor(config);
  // Started now, its start-up overlapping ours, unless this host's endpoint compresses the files handed over (then only if one is refused).
  void (handoff?.takes(client, config.compression) ?? Promise.resolve(false)).then((takes) => takes || worker?.warm());
  const codec = { ...chosen, ...(worker ? { worker } : {}), ...(handoff ? { handoff } : {}), direct: fast.direct };
  const settings = config.uploader;
  const owner = await ownerLine();
  const inflight = new Map<string, Promise<void>>();
  const pushed = new Map<string, string>();
  const backoff = new Map<string, { until: number; delay: number }>();
  let lastWork = Date.now();
  let completed = 0;
  let lastClean = 0;
  let queue: string[] = [];
  let scannedAt = 0;

  const push = async (name: string) => {
    // The foreground wal-push of this file waits for this push instead of repeating it.
    const pushing = pushingPath(spool, name);
    await writeAtomic(pushing, `${owner}\n`).catch(() => undefined);
    try {
      const outcome = await pushFile(walFileAt(join(walDir, name)), client, config.compression, codec);
      pushed.set(name, outcome.identity);
      backoff.delete(name);
      // PostgreSQL may have archived it meanwhile: a marker would then only wait for cleaning.
      if (await exists(join(walDir, 'archive_status', `${name}.ready`))) await writeMarker(spool, walDir, name, outcome.identity);
      logLine('info', 'archived ahead', { segment: name, status: outcome.status, encodeMs: outcome.encodeMs, sendMs: outcome.sendMs });
    } catch (error) {
      const delay = Math.min((backoff.get(name)?.delay ?? 500) * 2, MAX_BACKOFF_MS);
      backoff.set(name, { until: Date.now() + delay, delay });
      logError(error, { segment: name, retryInMs: delay });
    } finally {
      await removeQuietly(pushing);
      inflight.delete(name);
      completed += 1;
    }
  };

  let lastClusterCheck = 0;
  // Watched when the data directory has a postmaster.pid (a pg_wal copied aside, as in tests, has none).
  const watchCluster = (await clusterGone(walDir)) !== NO_POSTMASTER_PID;
  try {
    for (;;) {
      if (!(await holdsLock(spool, 'uploader'))) {
        logLine('info', 'uploader steps down: another one holds the pid file', { pid: process.pid });
        return;
      }
      const now = Date.now();
      // A file that keeps failing (a conflict) keeps the loop busy: without its cluster there
      // is no one left to wait for us, and the next start of the cluster starts an uploader.
      if (watchCluster && now - lastClusterCheck >= CLUSTER_CHECK_MS) {
        lastClusterCheck = now;
        const gone = await clusterGone(walDir);
        if (gone) {
          logLine('info', 'uploader exits: its cluster stopped', { pid: process.pid, walDir, reason: gone, waiting: [...backoff.keys()].slice(0, 5).join(',') });
          break;
        }
      }
      // Slow start: the first push alone (PostgreSQL waits for the oldest file), then one more per push done.
      const limit = Math.min(settings.concurrency, 1 + completed);
      const free = Math.max(0, limit - inflight.size);
      // The queue of the oldest pushable files is refilled when it ran dry (at most once a scan interval) or grew old.
      if (free > 0 && ((queue.length === 0 && now - scannedAt >= settings.scanIntervalMs) || now - scannedAt >= RESCAN_MS)) {
        queue = await oldestPushable(config, walDir, now, { inflight, pushed, backoff }, QUEUE_SIZE);
        scannedAt = now;
      }
      const todo = await takePushable(config, walDir, queue, free, { inflight, pushed, backoff });
      for (const name of todo) {
        if (inflight.size >= limit) break;
        inflight.set(name, push(name));
      }
      if (todo.length > 0 || inflight.size > 0) lastWork = now;
      else if (now - lastWork >= settings.idleExitMs) {
        // The markers the wal-push script answered from are left to us: tidy up before going.
        await cleanSpool(config, walDir);
        break;
      }
      if (now - lastClean >= CLEAN_EVERY_MS) {
        lastClean = now;
        await cleanSpool(config, walDir);
      }
      await Promise.race([sleep(settings.scanIntervalMs), ...inflight.values()]);
    }
  } finally {
    await Promise.allSettled([...inflight.values()]);
    await worker?.close();
    await releaseLock(spool, 'uploader');
  }
  logLine('info', 'uploader exits: nothing to archive', { pid: process.pid, ...processUsage() });
}

/**
 * Why the cluster of `walDir` (`<data directory>/pg_wal`) is gone, or undefined while it
 * runs: no postmaster.pid, or its PID no longer alive. A PID of another user (EPERM) is alive.
 */
export async function clusterGone(walDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(dirname(walDir), 'postmaster.pid'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return NO_POSTMASTER_PID;
    return undefined;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return pidExists(pid) ? undefined : `postmaster ${pid} is not running`;
}

interface UploaderState {
  inflight: Map<string, unknown>;
  pushed: Map<string, string>;
  backoff: Map<string, { until: number }>;
}

/**
 * The oldest files waiting in pg_wal that the uploader may push (at most `size`; history
 * files first, PostgreSQL's own order): not in flight, not backing off, not marked. What
 * it remembers of files (`pushed`, `backoff`) is pruned to the files still `.ready`: its
 * memory follows the queue's size, not pg_wal's backlog nor its history (ready-queue.ts).
 */
async function oldestPushable(config: HostConfig, walDir: string, now: number, state: UploaderState, size: number): Promise<string[]> {
  const out = new Set(await readdir(join(config.spool, SPOOL.out)).catch(() => [] as string[]));
  const eligible = (name: string) =>
    !state.inflight.has(name) && !out.has(`${name}${SPOOL.ok}`) && !out.has(`${name}${SPOOL.link}`) && (state.backoff.get(name)?.until ?? 0) <= now;
  const { oldest, stillReady } = await scanReady(join(walDir, 'archive_status'), size, eligible, [...state.pushed.keys(), ...state.backoff.keys()]);
  forgetAllBut(stillReady, state);
  return oldest;
}

/** Takes from `queue` (in place) up to `max` files to push now, skipping those a wal-push is pushing or that were pushed as they are. */
async function takePushable(config: HostConfig, walDir: string, queue: string[], max: number, state: UploaderState): Promise<string[]> {
  const todo: string[] = [];
  while (todo.length < max && queue.length > 0) {
    const name = queue.shift()!;
    if (state.inflight.has(name)) continue;
    if (await ownerAlive(await readSmall(busyPath(config.spool, name)), 'wal-push')) continue;
    const done = state.pushed.get(name);
    if (done !== undefined && done === (await fileIdentity(join(walDir, name)).catch(() => undefined))) continue;
    todo.push(name);
  }
  return todo;
}

/** Forgets every file not in `stillReady` (PostgreSQL archived it, or it is gone). */
export function forgetAllBut(stillReady: ReadonlySet<string>, state: Pick<UploaderState, 'pushed' | 'backoff'>): void {
  for (const map of [state.pushed, state.backoff]) {
    for (const name of map.keys()) if (!stillReady.has(name)) map.delete(name);
  }
}

/**
 * Removes markers of files PostgreSQL no longer waits on, dead busy notes and stray temp
 * files (in out/ and tmp/). Also run by a foreground wal-push when no uploader runs: the
 * hard links of a killed uploader must not keep removed segments' blocks for long.
 */
export async function cleanSpool(config: HostConfig, walDir: string): Promise<void> {
  const now = Date.now();
  const old = async (path: string) => now - (await stat(path)).mtimeMs > config.uploader.markerTtlMs;
  const awaited = (entry: string, suffix: string) => exists(join(walDir, 'archive_status', `${entry.slice(0, -suffix.length)}.ready`));
  const scratchDir = scratchPath(config.spool);
  const removable = async (dir: string, entry: string, path: string): Promise<boolean> => {
    // A hand-off (`<pid>.<n>.wal`, a hard link that keeps its segment's blocks) is in use while its process lives, and goes with it.
    if (dir === scratchDir && entry.endsWith(SPOOL.handoff)) return !(await ownerAlive(entry.split('.')[0], 'uploader')) && !(await ownerAlive(entry.split('.')[0], 'wal-push'));
    if (dir === scratchDir) return await old(path);
    // A hard link keeps its file's blocks: gone as soon as PostgreSQL no longer waits on the file.
    if (entry.endsWith(SPOOL.link)) return !(await awaited(entry, SPOOL.link));
    if (entry.endsWith(SPOOL.ok)) return !(await awaited(entry, SPOOL.ok)) && (await old(path));
    const role = entry.endsWith(SPOOL.busy) ? 'wal-push' : entry.endsWith(SPOOL.pushing) ? 'uploader' : undefined;
    if (role) return !(await ownerAlive(await readSmall(path), role)) && (await old(path));
    return entry.endsWith('.tmp') && (await old(path));
  };
  for (const dir of [scratchDir, join(config.spool, SPOOL.out)]) {
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, entry);
      // Gone meanwhile (stat fails): nothing to clean.
      if (await removable(dir, entry, path).catch(() => false)) await removeQuietly(path);
    }
  }
}

/**
 * Marks `name` archived ahead: a hard link to the very file (its identity checked through
 * the link), else, across filesystems or on any doubt, the `.ok` marker holding the identity.
 */
export async function writeMarker(spool: string, walDir: string, name: string, identity: string): Promise<void> {
  const link = linkMarkerPath(spool, name);
  const temp = `${link}.${process.pid}.tmp`;
  try {
    await removeQuietly(temp);
    await fsLink(join(walDir, name), temp);
    if ((await fileIdentity(temp)) === identity) return await rename(temp, link);
  } catch {
    // EXDEV (another filesystem), EPERM…: the identity marker below
  }
  await removeQuietly(temp);
  await writeAtomic(markerPath(spool, name), `${identity}\n`);
}
