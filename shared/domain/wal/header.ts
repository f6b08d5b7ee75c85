import { StrongboxError } from '../../errors';

/**
 * The long page header at the start of every WAL segment file (XLogLongPageHeaderData,
 * little-endian on every platform PostgreSQL ships for AWS): it names the cluster the
 * segment belongs to, so that one cluster cannot archive into another's history. Pure.
 */

/** Bytes needed to read the header. */
export const SEGMENT_HEADER_SIZE = 40;
const XLP_LONG_HEADER = 0x0002;

/** WAL page magic numbers of the PostgreSQL major versions Strongbox knows. */
const MAGIC_VERSIONS: Record<number, number> = { 0xd10d: 14, 0xd110: 15, 0xd113: 16, 0xd116: 17, 0xd118: 18 };

export interface SegmentHeader {
  magic: number;
  /** The PostgreSQL major version that wrote it, when the magic is known. */
  pgVersion?: number;
  timeline: number;
  /** LSN of the segment's first byte. */
  pageAddress: bigint;
  /** The cluster's system identifier (pg_control_system()), as a decimal string. */
  systemId: string;
  segmentSize: number;
  blockSize: number;
}

/**
 * Reads the long header of a segment. Throws StrongboxError WAL_HEADER_INVALID when the
 * bytes are too short or do not start with a long page header (not a WAL segment, or a
 * damaged one).
 */
export function parseSegmentHeader(bytes: Uint8Array): SegmentHeader {
  if (bytes.length < SEGMENT_HEADER_SIZE) throw invalid(`only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  const info = view.getUint16(2, true);
  if ((info & XLP_LONG_HEADER) === 0) throw invalid('the first page has no long header');
  if (magic < 0xd000 || magic > 0xdfff) throw invalid(`page magic 0x${magic.toString(16)} is not PostgreSQL's`);
  const segmentSize = view.getUint32(32, true);
  const blockSize = view.getUint32(36, true);
  if (segmentSize < 1 << 20 || segmentSize > 1 << 30 || (segmentSize & (segmentSize - 1)) !== 0) throw invalid(`segment size ${segmentSize} is impossible`);
  if (blockSize < 1024 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0) throw invalid(`block size ${blockSize} is impossible`);
  const timeline = view.getUint32(4, true);
  if (timeline === 0) throw invalid('timeline 0');
  const pgVersion = MAGIC_VERSIONS[magic];
  return {
    magic,
    ...(pgVersion ? { pgVersion } : {}),
    timeline,
    pageAddress: view.getBigUint64(8, true),
    systemId: view.getBigUint64(24, true).toString(),
    segmentSize,
    blockSize,
  };
}

function invalid(why: string): StrongboxError {
  return new StrongboxError('WAL_HEADER_INVALID', `not a WAL segment: ${why}`, 'archive only the files PostgreSQL names in %p; if this file is damaged, check the disk under pg_wal');
}

/** What a segment's header must say, from its name and the archive (see `assertHeaderMatches`). */
export interface ExpectedSegment {
  /** The timeline in the file's name. */
  timeline: number;
  /** The segment number in the file's name. */
  segno: bigint;
  segmentSize: number;
  /** The system identifier the segment is declared (and the archive expects) to come from. */
  systemId: string;
  pgVersion?: number;
}

/**
 * Checks that `head` (the first bytes of a decoded segment or `.partial` file) is the long
 * page header of the segment its name and declaration describe: the same system
 * identifier and segment size, the page address of the segment's first byte, and a
 * timeline no later than the name's (the first segment of a new timeline begins with
 * pages its parent wrote, so its header may carry the parent's timeline). Pure.
 *
 * @throws StrongboxError WAL_HEADER_INVALID naming the first field that does not match.
 */
export function assertHeaderMatches(head: Uint8Array, name: string, expected: ExpectedSegment): SegmentHeader {
  const header = parseSegmentHeader(head);
  const mismatch = (what: string): StrongboxError =>
    new StrongboxError('WAL_HEADER_INVALID', `the header of ${name} does not match it: ${what}; nothing was stored or recorded`, 'push only the files PostgreSQL names in %p, to the archive of the cluster that wrote them');
  if (header.systemId !== expected.systemId) throw mismatch(`it comes from system ${header.systemId}, the push says ${expected.systemId}`);
  if (header.segmentSize !== expected.segmentSize) throw mismatch(`its segment size is ${header.segmentSize}, the push says ${expected.segmentSize}`);
  const start = expected.segno * BigInt(expected.segmentSize);
  if (header.pageAddress !== start) throw mismatch(`its first page is at 0x${header.pageAddress.toString(16).toUpperCase()}, the segment starts at 0x${start.toString(16).toUpperCase()}`);
  if (header.timeline > expected.timeline) throw mismatch(`it was written on timeline ${header.timeline}, after the name's ${expected.timeline}`);
  if (expected.pgVersion !== undefined && header.pgVersion !== undefined && header.pgVersion !== expected.pgVersion) {
    throw mismatch(`PostgreSQL ${header.pgVersion} wrote it, the push says ${expected.pgVersion}`);
  }
  return header;
}
