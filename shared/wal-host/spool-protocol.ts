import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * THE SPOOL PROTOCOL: every file the WAL host keeps in a database's spool, who writes it,
 * who reads it, when it goes, and the rules that keep archiving safe whatever is killed
 * when. Start here to learn how archiving works on the host (docs/wal.md, "The host side").
 * Both the Node programs (wal-push, wal-fetch, the uploader, the prefetcher) and the
 * generated shell fast paths (scripts.ts) use only what this module exports.
 *
 * Processes: `wal-push` (PostgreSQL's archive_command, short-lived, Node or its shell fast
 * path), the **uploader** (one per spool, background, pushes `.ready` files ahead), and for
 * recovery `wal-fetch` (restore_command) and the **prefetcher** (one per spool).
 *
 * | file (under `<spool>/`)       | written by | read by | removed by |
 * |---|---|---|---|
 * | `uploader.pid`, `prefetcher.pid` | the background process, O_EXCL, holding its OWNER | wal-push / wal-fetch (Node and shell): is one running? | its owner at exit; anyone who finds its owner dead (then replaced) |
 * | `out/<name>.link`             | uploader: a hard link to the very file it archived (durable answer first) | wal-push (shell `-ef`, Node dev+ino) | uploader / Node's clean once `<name>.ready` is gone |
 * | `out/<name>.ok`               | uploader, through a rename: the file's IDENTITY, when a link is impossible (another filesystem) | wal-push (shell `stat`, Node) | Node when consumed; the clean after MARKER_TTL once not `.ready` |
 * | `out/<name>.pushing`          | uploader: its OWNER, while it pushes that file | wal-push: waits for the outcome instead of pushing twice | uploader when the push ends; the clean when the owner is dead |
 * | `out/<name>.busy`             | foreground wal-push (Node): its OWNER | uploader: skips that file | that wal-push; the clean when the owner is dead |
 * | `tmp/<pid>.<n>.wal`           | uploader or a foreground wal-push: a hard link to (or copy of) the WAL file, handed to an endpoint on this host | the endpoint: reads, hashes and compresses it | its writer once answered; the clean when that process is gone |
 * | `in/<name>.part` → `in/<name>`| prefetcher: verified, decompressed bytes, published by a rename | wal-fetch (shell and Node): moved onto %p | wal-fetch by the move; the prefetcher empties `in/` at start and exit, and keeps nothing when recovery's position moves other than onward within the window (a new recovery reads the archive again) |
 * | `prefetch.want`               | wal-fetch (shell and Node): the last name recovery asked for | prefetcher | never (overwritten) |
 * | `uploader.log`, `prefetcher.log` | the background process (stderr) | people | rotated at 5 MiB |
 *
 * Invariants:
 * 1. **Acknowledged only when durable.** wal-push exits 0 only when the endpoint answered
 *    `stored`/`exists` for these very bytes (Node), or a marker names this very file: a
 *    marker is written only after such an answer, and names the file's IDENTITY
 *    (`dev:ino:size:mtime-ns`, or the inode itself for a link) — a recycled or rewritten
 *    file under the same name never matches.
 * 2. **Nothing readable half-written.** Markers, pid-file takeovers and prefetched files
 *    appear by rename (or O_EXCL create of a one-line file); readers that find a file
 *    absent or unreadable treat it as absent, and absence only ever sends them the slow,
 *    safe way (Node pushes or fetches itself).
 * 3. **A dead process's files are recovered, never trusted.** Every note that says "a
 *    process is doing this" holds an OWNER: `<pid> <start time>` (the process's start, in
 *    clock ticks since boot, /proc/<pid>/stat field 22). A note counts only while that
 *    very process runs: a pid reused by another process has another start time, so neither
 *    Node nor the shell waits on it (a bare `kill -0` would). Notes of dead owners are
 *    removed by the clean; a pid file of a dead owner is replaced.
 * 4. **Every wait is bounded** (the request timeout, the script's steps), and every wait
 *    that ends without an answer falls back to Node doing the work itself.
 *
 * Tested: test/wal-host/protocol-model.test.ts drives the archiver and the uploader through
 * random schedules of kills and reused pids against the real endpoint; paths.test.ts runs the
 * plain path and each fast path (config `fastPaths`) against the same cases.
 */

/** The spool's folders and per-file suffixes. */
export const SPOOL = {
  out: 'out',
  in: 'in',
  tmp: 'tmp',
  link: '.link',
  ok: '.ok',
  pushing: '.pushing',
  busy: '.busy',
  part: '.part',
  handoff: '.wal',
  want: 'prefetch.want',
  uploaderPid: 'uploader.pid',
  prefetcherPid: 'prefetcher.pid',
} as const;

export type BackgroundRole = 'uploader' | 'prefetcher';

/** `<spool>/out/<name>.ok`: the identity marker of a file archived ahead. */
export const markerPath = (spool: string, name: string): string => join(spool, SPOOL.out, `${name}${SPOOL.ok}`);
/** `<spool>/out/<name>.link`: the hard-link marker (same device and inode as the file archived ahead). */
export const linkMarkerPath = (spool: string, name: string): string => join(spool, SPOOL.out, `${name}${SPOOL.link}`);
/** `<spool>/out/<name>.busy`: a foreground wal-push is pushing `name` (its owner). */
export const busyPath = (spool: string, name: string): string => join(spool, SPOOL.out, `${name}${SPOOL.busy}`);
/** `<spool>/out/<name>.pushing`: the uploader is pushing `name` (its owner). */
export const pushingPath = (spool: string, name: string): string => join(spool, SPOOL.out, `${name}${SPOOL.pushing}`);
/** `<spool>/in/<name>`: a verified, decompressed file fetched ahead. */
export const inboxPath = (spool: string, name: string): string => join(spool, SPOOL.in, name);
/** `<spool>/tmp`: the uploader's hand-offs. */
export const scratchPath = (spool: string): string => join(spool, SPOOL.tmp);
/** `<spool>/prefetch.want`. */
export const wantPath = (spool: string): string => join(spool, SPOOL.want);
/** `<spool>/<role>.pid`. */
export const pidPath = (spool: string, role: BackgroundRole): string => join(spool, role === 'uploader' ? SPOOL.uploaderPid : SPOOL.prefetcherPid);

/** A process as a note names it: its pid and, where /proc tells it, its start time. */
export interface Owner {
  pid: number;
  start?: string;
}

/** The start time of process `pid` (clock ticks since boot), or undefined when /proc does not say. */
export async function startTimeOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // Field 2 (comm) is in parentheses and may hold anything: count from the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** The OWNER line of process `pid` (`<pid> <start>`, or `<pid>` without /proc). */
export async function ownerLine(pid = process.pid): Promise<string> {
  const start = await startTimeOf(pid);
  return start === undefined ? `${pid}` : `${pid} ${start}`;
}

/** Parses an OWNER line; undefined for anything else. */
export function parseOwner(text: string | undefined): Owner | undefined {
  const match = /^(\d+)(?: (\d+))?$/.exec(text?.trim() ?? '');
  if (!match) return undefined;
  const pid = Number(match[1]);
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  return match[2] === undefined ? { pid } : { pid, start: match[2] };
}

/** True when a process `pid` exists on this host (signal 0; one of another user, EPERM, exists too). */
export function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while the process an OWNER line names runs: the same pid with the same start time.
 * A line without a start time (written where /proc is missing, or by an older version) is
 * taken for `role` only when the process's command line says so.
 */
export async function ownerAlive(text: string | undefined, role: string): Promise<boolean> {
  const owner = parseOwner(text);
  if (!owner || !pidExists(owner.pid)) return false;
  if (owner.start !== undefined) return (await startTimeOf(owner.pid)) === owner.start;
  const cmdline = await readFile(`/proc/${owner.pid}/cmdline`, 'utf8').catch(() => undefined);
  return cmdline === undefined || cmdline.split('\0').includes(role);
}

/** True when an OWNER line names this process (its pid: a live process's pid is its own). */
export function ownedByMe(text: string | undefined): boolean {
  return parseOwner(text)?.pid === process.pid;
}

/**
 * POSIX sh: `owner_alive FILE` succeeds when FILE holds an OWNER line whose process runs
 * with that start time (invariant 3), with builtins only (`read` of /proc/<pid>/stat). A
 * line without a start time never counts here: the shell then hands over to Node.
 */
export const SHELL_OWNER_ALIVE = `owner_alive() {
  _o=''
  { read -r _o < "$1"; } 2>/dev/null || return 1
  case "$_o" in [0-9]*' '[0-9]*) ;; *) return 1 ;; esac
  _s=''
  { read -r _s < "/proc/\${_o%% *}/stat"; } 2>/dev/null || return 1
  set -- \${_s##*) }
  [ "$#" -ge 20 ] || return 1
  shift 19
  [ "$1" = "\${_o#* }" ]
}`;
