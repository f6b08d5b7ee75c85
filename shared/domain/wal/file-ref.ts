import { assertDatabaseName } from '../keys';
import { assertSegmentSize, parseWalName, type WalFileKind, type WalName } from './names';

/**
 * One WAL file of one database's archive, as a request names it: the database name and
 * the WAL file name checked once, at the edge (the archive endpoint's route), and passed
 * on as this value, so that no floor below parses them again (issue 19 point 3). Pure.
 *
 * The name is parsed against the smallest segment size (1 MiB), which allows the most
 * segments per log id; `walNameOf` then applies the archive's own segment size from the
 * parts kept here, without parsing the text again.
 */
export interface WalFileRef {
  readonly database: string;
  readonly name: string;
  readonly kind: WalFileKind;
  readonly timeline: number;
  /** The 24-hex segment part (segments, `.partial` and `.backup` files). */
  readonly segment?: string;
  /** The log id and the low 8 hex digits of the segment part, as numbers. */
  readonly logId?: bigint;
  readonly low?: bigint;
  readonly [checked]: true;
}

declare const checked: unique symbol;

const SMALLEST_SEGMENT = 1 << 20;
const ID_SPAN = 0x1_0000_0000n;

/**
 * Checks a database name and a WAL file name and returns them as one value.
 *
 * @throws InputError (INPUT_INVALID) for a database name Strongbox cannot use,
 *   StrongboxError BAD_WAL_NAME for anything that is not a WAL file name.
 */
export function walFileRef(database: string, name: string): WalFileRef {
  assertDatabaseName(database);
  const parsed = parseWalName(name, SMALLEST_SEGMENT);
  const segment = parsed.segment;
  const parts = segment === undefined ? {} : { segment, logId: BigInt(`0x${segment.slice(8, 16)}`), low: BigInt(`0x${segment.slice(16)}`) };
  return { database, name, kind: parsed.kind, timeline: parsed.timeline, ...parts } as WalFileRef;
}

/**
 * The file's WalName for the archive's segment size: its segment number, once the size is
 * known. Pure arithmetic on the parts `walFileRef` kept.
 *
 * @throws InputError for a segment size PostgreSQL does not allow, StrongboxError
 *   BAD_WAL_NAME when the name's low digits are past that size's segments per log id.
 */
export function walNameOf(file: WalFileRef, segmentSize: number): WalName {
  if (file.segment === undefined || file.logId === undefined || file.low === undefined) return { name: file.name, kind: file.kind, timeline: file.timeline };
  assertSegmentSize(segmentSize);
  const perId = ID_SPAN / BigInt(segmentSize);
  // Out of range for this size: parseWalName says so with its own message.
  if (file.low >= perId) return parseWalName(file.name, segmentSize);
  return { name: file.name, kind: file.kind, timeline: file.timeline, segno: file.logId * perId + file.low, segment: file.segment };
}
