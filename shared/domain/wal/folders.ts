import { InputError } from '../../errors';
import { segmentName, type WalName } from './names';
import type { WalRange } from './ranges';

/**
 * The WAL folders of the archive (`wal/<database>/<TTTTTTTTLLLLLLLL>/`, keys.ts): one per
 * timeline and 4 GiB of WAL (a log id), in the order PostgreSQL writes them. Pure.
 */

const FOLDER = /^[0-9A-F]{16}$/;

function hex8(value: number): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

/** The folder of a segment (or `.partial` / `.backup`) name: its first 16 hex digits. */
export function folderOf(name: string): string {
  return name.slice(0, 16);
}

/** The first folder of a timeline that begins at LSN `beginLsn` (timeline 1: 0). */
export function firstFolder(timeline: number, beginLsn = 0n): string {
  return `${hex8(timeline)}${hex8(Number(beginLsn >> 32n))}`;
}

/** The folder after `folder` on the same timeline; undefined after the last log id. */
export function nextFolder(folder: string): string | undefined {
  if (!FOLDER.test(folder)) throw new InputError(`${folder} is not a WAL folder`, 'a WAL folder is 16 hex digits: the timeline and the log id');
  const log = Number.parseInt(folder.slice(8), 16);
  return log >= 0xffff_ffff ? undefined : `${folder.slice(0, 8)}${hex8(log + 1)}`;
}

/** The folder of a range's first segment. */
export function folderOfRange(range: WalRange, segmentSize: number): string {
  return folderOf(segmentName(range.timeline, range.from, segmentSize));
}

/** True when `ranges` (joined, ascending) hold the segment `name`; only segments can be held. */
export function heldByRanges(ranges: readonly WalRange[], name: WalName): boolean {
  if (name.kind !== 'segment' || name.segno === undefined) return false;
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const range = ranges[middle]!;
    if (name.segno < range.from) high = middle - 1;
    else if (name.segno > range.to) low = middle + 1;
    else return true;
  }
  return false;
}
