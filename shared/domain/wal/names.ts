import { InputError, StrongboxError } from '../../errors';

/**
 * WAL file names and LSN arithmetic, as PostgreSQL defines them. Pure.
 *
 * A segment is named `TTTTTTTTLLLLLLLLSSSSSSSS` (hex): timeline, then the segment number
 * split in two (`segno / segmentsPerId`, `segno % segmentsPerId`, where one id spans 4 GiB).
 * Beside segments the archive holds `TTTTTTTT.history` (one per timeline switch),
 * `<segment>.<offset>.backup` (one per base backup) and `<segment>.partial` (the last,
 * unfinished segment of a timeline a promotion left).
 */

/** PostgreSQL's default wal_segment_size. */
export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;
const ID_SPAN = 0x1_0000_0000n;

export type WalFileKind = 'segment' | 'history' | 'backup' | 'partial';

/** A parsed WAL file name. `segno` is absent for history files. */
export interface WalName {
  name: string;
  kind: WalFileKind;
  timeline: number;
  segno?: bigint;
  /** The 24-hex segment part (segment, backup and partial files). */
  segment?: string;
}

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const HISTORY = /^([0-9A-F]{8})\.history$/;
const BACKUP = /^([0-9A-F]{24})\.([0-9A-F]{8})\.backup$/;
const PARTIAL = /^([0-9A-F]{24})\.partial$/;

function segmentsPerId(segmentSize: number): bigint {
  assertSegmentSize(segmentSize);
  return ID_SPAN / BigInt(segmentSize);
}

/** Throws InputError unless `size` is a power of two between 1 MiB and 1 GiB (what initdb allows). */
export function assertSegmentSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 << 20 || size > 1 << 30 || (size & (size - 1)) !== 0) {
    throw new InputError(`WAL segment size ${size} is not valid`, 'PostgreSQL segment sizes are powers of two from 1 MiB to 1 GiB (`SHOW wal_segment_size`)');
  }
}

/** True when `name` is any file the archive accepts (segment, history, backup label, partial). */
export function isWalFileName(name: string): boolean {
  return SEGMENT.test(name) || HISTORY.test(name) || BACKUP.test(name) || PARTIAL.test(name);
}

/**
 * Parses a WAL file name. Throws StrongboxError (code BAD_WAL_NAME) for anything else,
 * including lower-case hex, paths and a timeline 0.
 */
export function parseWalName(name: string, segmentSize = DEFAULT_SEGMENT_SIZE): WalName {
  const history = HISTORY.exec(name);
  if (history) return { name, kind: 'history', timeline: timelineOf(name, history[1]!) };
  const backup = BACKUP.exec(name);
  const partial = PARTIAL.exec(name);
  const segmentPart = backup?.[1] ?? partial?.[1] ?? name;
  const match = SEGMENT.exec(segmentPart);
  if (!match) throw badName(name);
  const perId = segmentsPerId(segmentSize);
  const low = BigInt(`0x${match[3]}`);
  if (low >= perId) throw badName(name, `its last 8 digits must be below ${perId.toString(16).toUpperCase()} for ${segmentSize / 1048576} MiB segments`);
  const segno = BigInt(`0x${match[2]}`) * perId + low;
  const kind: WalFileKind = backup ? 'backup' : partial ? 'partial' : 'segment';
  return { name, kind, timeline: timelineOf(name, match[1]!), segno, segment: segmentPart };
}

function timelineOf(name: string, hex: string): number {
  const timeline = Number.parseInt(hex, 16);
  if (timeline === 0) throw badName(name, 'timeline 0 does not exist');
  return timeline;
}

function badName(name: string, why?: string): StrongboxError {
  return new StrongboxError(
    'BAD_WAL_NAME',
    `${JSON.stringify(name.slice(0, 80))} is not a WAL file name${why ? `: ${why}` : ''}`,
    'pass %f or %p exactly as PostgreSQL gives them: 24 upper-case hex digits, optionally with .partial or .<offset>.backup, or TTTTTTTT.history',
  );
}

/** The segment file name of segment number `segno` on `timeline`. */
export function segmentName(timeline: number, segno: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): string {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffff_ffff || segno < 0n) {
    throw new InputError(`no segment ${segno} on timeline ${timeline}`, 'timelines are 1 to 2^32-1 and segment numbers are not negative');
  }
  const perId = segmentsPerId(segmentSize);
  return hex8(BigInt(timeline)) + hex8(segno / perId) + hex8(segno % perId);
}

/** The history file name of `timeline`. */
export function historyName(timeline: number): string {
  return `${hex8(BigInt(timeline))}.history`;
}

function hex8(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

/** A log sequence number: a byte position in the WAL stream. */
export type Lsn = bigint;

/** Parses `X/Y` (PostgreSQL's text form). Throws StrongboxError (BAD_LSN). */
export function parseLsn(text: string): Lsn {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) {
    throw new StrongboxError('BAD_LSN', `${JSON.stringify(text.slice(0, 40))} is not an LSN`, 'write it as PostgreSQL prints it, e.g. 0/16B3748 (see pg_current_wal_lsn())');
  }
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** PostgreSQL's text form of an LSN: `X/Y`, upper-case hex without leading zeros. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** The number of the segment holding the byte at `lsn`. */
export function segnoOfLsn(lsn: Lsn, segmentSize = DEFAULT_SEGMENT_SIZE): bigint {
  return lsn / BigInt(segmentSize);
}

/** The first LSN of segment `segno` (its end is the next segment's start). */
export function segmentStartLsn(segno: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): Lsn {
  return segno * BigInt(segmentSize);
}
