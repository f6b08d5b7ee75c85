import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SEGMENT_SIZE, parseWalName, segmentName } from '../domain/wal/names';
import { StrongboxError } from '../errors';
import { ArchiveClient } from './client';
import { chooseCodec, type CodecOptions } from './codec';
import type { HostConfig } from './config';
import { fetchToFile, type FetchEvents } from './fetch-file';
import { logError, logLine } from './log';
import { acquireLock, holdsLock, readSmall, releaseLock, sleep, writeAtomic } from './spool';
import { inboxPath, SPOOL, wantPath } from './spool-protocol';

/**
 * The prefetcher: keeps the next `config.fetch.prefetch` segments after the one recovery
 * last asked for (`<spool>/prefetch.want`) downloaded, verified and decompressed in
 * `<spool>/in/`, where wal-fetch (or its shell fast path) takes them. A segment that is not
 * archived stops the window there. One per spool; it empties `in/` when it starts and when
 * it exits, so that files of an earlier recovery are never served.
 */

/** Options (tests: client and codec). */
export interface PrefetcherOptions {
  client?: ArchiveClient;
  codec?: CodecOptions;
  /**
   * A warm start (`prefetcher --from NAME`): recovery has not begun yet and will first ask for
   * segment NAME — e.g. while the base backup is still being unpacked — so the window starts
   * at NAME itself, and the prefetcher waits up to WARM_IDLE_MS (not prefetchIdleMs) for
   * recovery to ask for it before it idles out.
   */
  from?: string;
}

/** How long a warm-started prefetcher waits for recovery's first request (a base backup may take long to unpack). */
export const WARM_IDLE_MS = 300_000;

/** A 404 or a failure is asked again after this long (a standby waits for segments still being archived). */
const MISSING_RETRY_MS = 2_000;

/**
 * How often the loop looks at the spool when nothing woke it: a change of `prefetch.want` wakes
 * it at once through a watch of the spool (inotify), a finished download too. Polling every
 * 50 ms instead cost ~55 ms of CPU per second of recovery (bench:drill's profile), on the
 * cores the startup process replays on.
 */
const POLL_MS = 250;

/** The pace without a working watch (a filesystem without inotify). */
const POLL_UNWATCHED_MS = 50;

/**
 * Runs until nothing was asked or fetched for `config.fetch.prefetchIdleMs`, or another
 * process took the pid file. Resolves quietly when a prefetcher already runs; fetch
 * failures are logged (wal-fetch itself fetches what is not here).
 */
export async function runPrefetcher(config: HostConfig, options: PrefetcherOptions = {}): Promise<void> {
  const { spool } = config;
  const client = options.client ?? new ArchiveClient(config);
  // A warm start moves the window of a prefetcher already running too (one left idling by an earlier recovery).
  const warm = options.from === undefined ? undefined : await warmWant(client, spool, options.from);
  if (!(await acquireLock(spool, 'prefetcher'))) return;
  const codec = chooseCodec(config.compression, options.codec ?? {});
  const inDir = join(spool, 'in');
  const inflight = new Map<string, Promise<void>>();
  const found = new Set<string>();
  const missing = new Map<string, number>();
  let wake = () => {};
  let poked: boolean | undefined;
  let lastWant: string | undefined;
  let lastActivity = Date.now();
  const watcher = watchWant(spool, () => {
    poked = true;
    wake();
  });
  try {
    await mkdir(inDir, { recursive: true });
    await emptyInbox(inDir, new Set());
    const segmentSize = (await client.identity().catch(() => undefined))?.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    logLine('info', 'prefetcher started', { pid: process.pid, segmentSize, ...(warm !== undefined ? { from: options.from } : {}) });
    for (;;) {
      poked = false;
      if (!(await holdsLock(spool, 'prefetcher'))) return;
      const now = Date.now();
      // wal-fetch rewrites the file in place (truncate, then one write): an empty read is that
      // moment, not a new position — taken for one, it would empty the inbox of everything fetched.
      const want = (await readSmall(wantPath(spool))) || lastWant;
      const window = windowAfter(want, config.fetch.prefetch, segmentSize);
      if (want !== lastWant) {
        // Recovery moving forward within the window keeps what was fetched for it; any other
        // move (a new recovery, from an earlier segment or elsewhere) keeps nothing fetched
        // before it: each recovery reads the archive as it is now (a drill must see damage).
        const onward = lastWant !== undefined && want !== undefined && windowAfter(lastWant, config.fetch.prefetch, segmentSize).includes(want);
        lastWant = want;
        lastActivity = now;
        const parts = [...inflight.keys()].map((name) => `${name}.part`);
        await emptyInbox(inDir, new Set(onward ? [...window, ...parts] : parts));
      }
      const present = new Set(await readdir(inDir).catch(() => [] as string[]));
      // In window order, and a name only once every name before it is known to be archived:
      // recovery cannot skip a missing segment, so nothing behind a gap is worth fetching.
      for (const name of window) {
        if (present.has(name)) continue;
        if (inflight.has(name)) {
          if (found.has(name)) continue;
          break;
        }
        const missedAt = missing.get(name);
        if ((missedAt !== undefined && now - missedAt < MISSING_RETRY_MS) || inflight.size >= config.fetch.prefetchConcurrency) break;
        // Only a download counts as activity: re-asking for a missing segment does not keep it alive.
        const events = {
          onFound: () => {
            found.add(name);
            lastActivity = Date.now();
            wake();
          },
        };
        const done = prefetchOne(client, config, name, missing, codec, events).finally(() => {
          inflight.delete(name);
          found.delete(name);
        });
        inflight.set(name, done);
        break;
      }
      if (found.size > 0) lastActivity = now;
      else if (inflight.size === 0 && now - lastActivity >= (want !== undefined && want === warm ? Math.max(WARM_IDLE_MS, config.fetch.prefetchIdleMs) : config.fetch.prefetchIdleMs)) break;
      // A change signalled while this pass ran is looked at now, not after the next poll.
      if (!poked) await Promise.race([sleep(watcher ? POLL_MS : POLL_UNWATCHED_MS), new Promise<void>((resolve) => (wake = resolve)), ...inflight.values()]);
    }
  } finally {
    watcher?.close();
    await Promise.allSettled([...inflight.values()]);
    if (await holdsLock(spool, 'prefetcher')) await emptyInbox(inDir, new Set());
    await releaseLock(spool, 'prefetcher');
  }
  logLine('info', 'prefetcher exits: recovery asked for nothing new', { pid: process.pid });
}

/** The `count` segment names after `want` on its timeline (none when `want` is not a segment). */
export function windowAfter(want: string | undefined, count: number, segmentSize = DEFAULT_SEGMENT_SIZE): string[] {
  if (!want) return [];
  try {
    const parsed = parseWalName(want, segmentSize);
    if (parsed.kind !== 'segment') return [];
    return Array.from({ length: count }, (_, i) => segmentName(parsed.timeline, parsed.segno! + BigInt(i + 1), segmentSize));
  } catch {
    return [];
  }
}

/** Watches the spool for changes of `prefetch.want` (wal-fetch writes it as recovery moves on); undefined where it cannot. */
function watchWant(spool: string, onChange: () => void): FSWatcher | undefined {
  try {
    const watcher = watch(spool, { persistent: false }, (_event, file) => {
      if (file === null || file === SPOOL.want) onChange();
    });
    watcher.on('error', () => undefined);
    return watcher;
  } catch {
    return undefined;
  }
}

/** Writes `prefetch.want` so that segment `from` opens the window; resolves what it wrote (undefined when `from` is no segment). */
async function warmWant(client: ArchiveClient, spool: string, from: string): Promise<string | undefined> {
  const segmentSize = (await client.identity().catch(() => undefined))?.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const want = segmentBefore(from, segmentSize);
  if (want === undefined) return undefined;
  await mkdir(spool, { recursive: true });
  await writeAtomic(wantPath(spool), `${want}\n`);
  return want;
}

/** The segment before `name` on its timeline (the "last asked" that puts `name` first in the window); undefined for anything else. */
export function segmentBefore(name: string, segmentSize = DEFAULT_SEGMENT_SIZE): string | undefined {
  try {
    const parsed = parseWalName(name, segmentSize);
    if (parsed.kind !== 'segment' || parsed.segno! < 1n) return undefined;
    return segmentName(parsed.timeline, parsed.segno! - 1n, segmentSize);
  } catch {
    return undefined;
  }
}

async function prefetchOne(client: ArchiveClient, config: HostConfig, name: string, missing: Map<string, number>, codec: CodecOptions | undefined, events: FetchEvents): Promise<void> {
  const target = inboxPath(config.spool, name);
  try {
    // `.part` is what wal-fetch waits on; the rename publishes it whole.
    await fetchToFile(client, name, target, `${target}.part`, { ...codec, durable: false }, events);
    missing.delete(name);
  } catch (error) {
    await unlink(`${target}.part`).catch(() => undefined);
    // Not archived (yet), or failing: ask again later, not in a tight loop.
    missing.set(name, Date.now());
    if (!(error instanceof StrongboxError && error.code === 'WAL_NOT_FOUND')) logError(error, { segment: name, step: 'prefetch' });
  }
}

/** Removes everything in `in/` but the names in `keep`. */
async function emptyInbox(inDir: string, keep: Set<string>): Promise<void> {
  for (const entry of await readdir(inDir).catch(() => [] as string[])) {
    if (!keep.has(entry)) await unlink(join(inDir, entry)).catch(() => undefined);
  }
}
