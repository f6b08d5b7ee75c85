import { opendir } from 'node:fs/promises';
import { isWalFileName } from '../domain/wal/names';

/**
 * The uploader's view of pg_wal's backlog, in memory bounded whatever the backlog: one pass
 * over `archive_status` (streamed, never listed whole) keeps only the `size` oldest files
 * that may be pushed, in PostgreSQL's order (history files first, then by name), and the
 * queue is refilled only when it runs dry or grows old. A backlog of a million `.ready`
 * files costs a pass over them now and then, never a million names in memory.
 */

/** PostgreSQL's archiving order: history files first, then by name. */
export function archiveOrder(a: string, b: string): number {
  return Number(b.endsWith('.history')) - Number(a.endsWith('.history')) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The `size` first names of `.ready` files in `statusDir` (archive order) that `eligible`
 * accepts, and which of `remembered` still have a `.ready` file. Streams the folder.
 */
export async function scanReady(statusDir: string, size: number, eligible: (name: string) => boolean, remembered: Iterable<string> = []): Promise<{ oldest: string[]; stillReady: Set<string> }> {
  const watch = new Set(remembered);
  const stillReady = new Set<string>();
  const oldest: string[] = [];
  let dir;
  try {
    dir = await opendir(statusDir, { bufferSize: 256 });
  } catch {
    return { oldest, stillReady };
  }
  for await (const entry of dir) {
    if (!entry.name.endsWith('.ready')) continue;
    const name = entry.name.slice(0, -'.ready'.length);
    if (watch.has(name)) stillReady.add(name);
    if (!isWalFileName(name)) continue;
    if (oldest.length >= size && archiveOrder(name, oldest[oldest.length - 1]!) >= 0) continue;
    if (!eligible(name)) continue;
    // Insert in order; the array never holds more than `size` names.
    let at = oldest.length;
    while (at > 0 && archiveOrder(name, oldest[at - 1]!) < 0) at--;
    oldest.splice(at, 0, name);
    if (oldest.length > size) oldest.pop();
  }
  return { oldest, stillReady };
}
