import type { BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * The identity of one file on disk: `dev:ino:size:mtimeNs` (decimal). A marker counts only
 * for the file it was written for: PostgreSQL recycles segment files by renaming them, so a
 * name alone says nothing. The shell fast path computes the same string with
 * `stat -c '%d:%i:%s:%.9Y'` and the dot removed (see IDENTITY_SHELL).
 */

/** The identity of already-read stats (they must come from a `{ bigint: true }` stat). */
export function identityOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
}

/** The identity of the file at `path`. Rejects with the fs error when it cannot be stat'ed. */
export async function fileIdentity(path: string): Promise<string> {
  return identityOf(await stat(path, { bigint: true }));
}

/**
 * POSIX sh that sets `$id` to the identity of the file named by `$p`, or to an empty string
 * when `stat` fails. `%.9Y` prints `seconds.nanoseconds`; removing the dot gives mtimeNs
 * (seconds are never zero-padded, nanoseconds always nine digits, as in Node's mtimeNs).
 * A stat without `%.9Y` prints no dot: the doubled string then never matches a marker.
 */
export const IDENTITY_SHELL = `id=$(stat -c '%d:%i:%s:%.9Y' -- "$p" 2>/dev/null) || id=''
id="\${id%.*}\${id##*.}"`;
