import type { Readable } from 'node:stream';
import { hasRangedReads, type Storage } from '../../ports/storage';
import { WalContentInvalidError } from '../../errors';
import { HEAD_PREFIX_BYTES, type WalCodec, type WalContent } from '../../ports/wal-codec';
import { assertHeaderMatches, SEGMENT_HEADER_SIZE } from '../../domain/wal/header';
import { WalChecksumMismatchError } from './errors';
import type { WalTarget } from './records';

/**
 * The endpoint is the trust boundary of the archive: what it records must be a file
 * PostgreSQL wrote, whatever the request declares. Before a record is written the stored
 * bytes are read once and
 * - hashed: the stored size and SHA-256 must be the declared ones;
 * - decoded as declared (zstd, gzip, none) to exactly the declared size (a segment: the
 *   segment size), and the decoded SHA-256 must be the declared one;
 * - for a segment or `.partial` file, its long page header must name the declared
 *   cluster, the segment size, the page address of the name's segment and a timeline no
 *   later than the name's (the identity check, done by the caller, ties the cluster to
 *   the archive's).
 * So the record's hashes are computed on what arrived, never only trusted.
 *
 * @throws WalChecksumMismatchError (stored or decoded bytes hash to something else),
 *   WalContentInvalidError (not decodable as declared, or another size), StrongboxError
 *   WAL_HEADER_INVALID (the header is not this segment's), and what `stored` throws.
 */
export async function verifyWalContent(codec: WalCodec, target: WalTarget, stored: Readable | Buffer): Promise<WalContent> {
  const content = await codec.inspect(stored, target.declaration.compression, target.declaration.size);
  checkWalContent(target, content);
  return content;
}

/** The checks of `verifyWalContent` on content already read (WalCodec.inspect). Throws as it does. */
export function checkWalContent(target: WalTarget, content: WalContent): void {
  const declared = target.declaration;
  if (content.storedBytes !== declared.storedSize || content.storedSha256 !== declared.storedSha256) {
    throw new WalChecksumMismatchError(target.objectKey, describe(declared.storedSize, declared.storedSha256), describe(content.storedBytes, content.storedSha256));
  }
  if (content.size !== declared.size) {
    throw new WalContentInvalidError(`${target.name} decodes (${declared.compression}) to ${content.size} bytes, not the declared ${declared.size}`);
  }
  if (content.sha256 !== declared.sha256) {
    throw new WalChecksumMismatchError(`${target.objectKey} (decoded)`, describe(declared.size, declared.sha256), describe(content.size, content.sha256));
  }
  checkSegmentHeader(target, content.head);
}

/** A segment's or `.partial` file's long page header must be its name's and its cluster's (nothing for other kinds). */
function checkSegmentHeader(target: WalTarget, head: Buffer): void {
  const declared = target.declaration;
  const { wal } = target;
  if ((wal.kind === 'segment' || wal.kind === 'partial') && wal.segno !== undefined) {
    assertHeaderMatches(head, target.name, {
      timeline: wal.timeline,
      segno: wal.segno,
      segmentSize: declared.segmentSize!,
      systemId: declared.systemId!,
      ...(declared.pgVersion !== undefined ? { pgVersion: declared.pgVersion } : {}),
    });
  }
}

/**
 * The checks of `verifyWalContent` on an object uploaded with a presigned PUT, whose size
 * (`stored.size`) equals the declared one, reading as little as the trust boundary allows
 * (docs/wal.md, "Presign mode" and "The deferred decoded check"):
 * - `stored.sha256` is the SHA-256 storage verified on arrival (S3 refuses a PUT whose body
 *   does not hash to its signed `x-amz-checksum-sha256`: 400 BadDigest). Another value than
 *   the declared one is refused without a read.
 * - Equal and uncompressed (`none`: the stored bytes are the file, their SHA-256 and size
 *   the file's, declaration.ts): only the first page's long header is read (a ranged GET of
 *   SEGMENT_HEADER_SIZE) and checked against the name and cluster; a `.history` or `.backup`
 *   file needs no read at all. Resolves `checked`.
 * - Equal and compressed, a segment larger than HEAD_PREFIX_BYTES: a ranged GET of that
 *   prefix, decoded only as far as the header, which is checked; the decoded size and
 *   SHA-256 stay the declaration's word. Resolves `deferred`: the record says so, and the
 *   object is decoded whole before the record is indexed (deferred-check.ts).
 * - Otherwise (no SHA-256 from storage, an object of at most HEAD_PREFIX_BYTES, a prefix
 *   that does not decode to a header): the whole object is read and checked as
 *   `verifyWalContent` does. Resolves `checked`.
 *
 * @throws as verifyWalContent, and ObjectNotFoundError when the object went away.
 */
export async function verifyUploadedObject(
  { storage, codec }: { storage: Storage; codec: WalCodec },
  target: WalTarget,
  stored: { size: number; sha256?: string },
  /** The prefix, when the caller already asked for it (in parallel with the HEAD); undefined when that read failed. */
  prefix?: Promise<Buffer | undefined>,
): Promise<'checked' | 'deferred'> {
  const declared = target.declaration;
  if (stored.sha256 !== undefined && stored.sha256 !== declared.storedSha256) {
    throw new WalChecksumMismatchError(target.objectKey, describe(declared.storedSize, declared.storedSha256), `${describe(stored.size, stored.sha256)} (as storage verified it on upload)`);
  }
  const { wal } = target;
  const segment = (wal.kind === 'segment' || wal.kind === 'partial') && wal.segno !== undefined;
  if (stored.sha256 !== undefined && hasRangedReads(storage)) {
    if (declared.compression === 'none') {
      if (segment) checkSegmentHeader(target, await storage.getRange(target.objectKey, 0, Math.min(SEGMENT_HEADER_SIZE, stored.size)));
      return 'checked';
    }
    if (segment && stored.size > HEAD_PREFIX_BYTES) {
      const bytes = (await prefix) ?? (await storage.getRange(target.objectKey, 0, HEAD_PREFIX_BYTES));
      const head = await codec.decodeHead(bytes, declared.compression, SEGMENT_HEADER_SIZE);
      if (head !== undefined) {
        checkSegmentHeader(target, head);
        return 'deferred';
      }
    }
  }
  await verifyWalContent(codec, target, await storage.get(target.objectKey));
  return 'checked';
}

/** True for the refusals of `verifyWalContent` (the content is wrong), false for a failure to read it. */
export function isContentRefusal(error: unknown): boolean {
  return error instanceof WalChecksumMismatchError || error instanceof WalContentInvalidError || (error instanceof Error && (error as { code?: string }).code === 'WAL_HEADER_INVALID');
}

function describe(bytes: number, sha256: string): string {
  return `${bytes} bytes with SHA-256 ${sha256}`;
}
