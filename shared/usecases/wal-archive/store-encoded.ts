import type { WalFileRef } from '../../domain/wal/file-ref';
import { StrongboxError } from '../../errors';
import { parseSegmentHeader } from '../../domain/wal/header';
import type { WalCompression } from '../../domain/wal/keys';
import { walKeysOf } from '../../domain/wal/keys';
import type { WalContent } from '../../ports/wal-codec';
import { declareWalFile } from './declaration';
import type { WalArchiveDeps } from './deps';
import { finishPush } from './finish';
import { withKeyLock } from './lock';
import { openTarget, writeCreateOnly, type PushOutcome } from './push';
import { answerArchived, readRecord } from './records';
import { checkWalContent, isContentRefusal } from './verify';

/** A WAL file the endpoint read and encoded itself: the stored bytes, and what it measured of the file. */
export interface EncodedWalFile {
  compression: WalCompression;
  stored: Buffer;
  /** Measured while the file was read and encoded: sizes, both SHA-256s, the file's first bytes. */
  content: WalContent;
}

/**
 * Bytes mode, a WAL file handed over whole (local mode, archive-endpoint/handoff.ts): the
 * endpoint, the trusted side, read the file, hashed and compressed it itself, so there is
 * nothing declared to verify — the declaration is made from its own measurements and
 * passes the rules a host's would (declaration.ts), and the segment's header is checked
 * against its name and the archive's identity as any push's is. Then the file is stored
 * create-only and recorded, as a body is (push.ts).
 *
 * @throws StrongboxError WAL_HEADER_INVALID (not the segment its name says, or not its
 *   header's size; nothing kept), WalConflictError, SystemIdMismatchError, StorageError.
 */
export async function storeEncodedWal(deps: WalArchiveDeps, file: WalFileRef, encoded: EncodedWalFile): Promise<PushOutcome> {
  const { database, name } = file;
  try {
    const request = declareWalFile(file, declarationOf(file, encoded));
    return await withKeyLock(deps, walKeysOf(file, encoded.compression).recordKey, async () => {
      const target = await openTarget(deps, request);
      const record = await readRecord(deps.storage, target.recordKey);
      if (record) return answerArchived(deps, target, record);
      checkWalContent(target, encoded.content);
      const written = await writeCreateOnly(deps, target, encoded.stored);
      return written.status === 'written' ? finishPush(deps, target) : written.outcome;
    });
  } catch (error) {
    if (isContentRefusal(error)) deps.log.warn('WAL push refused: the handed-over file is not the segment its name says', { database, segment: name, code: (error as { code?: string }).code });
    throw error;
  }
}

/** The declaration a host would send for what the endpoint measured (a segment's facts from its header). Throws WAL_HEADER_INVALID. */
function declarationOf(file: WalFileRef, { compression, content }: EncodedWalFile): Record<string, unknown> {
  const measured = { size: content.size, sha256: content.sha256, storedSize: content.storedBytes, storedSha256: content.storedSha256, compression };
  if (file.kind !== 'segment' && file.kind !== 'partial') return measured;
  const header = parseSegmentHeader(content.head);
  if (content.size !== header.segmentSize) {
    throw new StrongboxError('WAL_HEADER_INVALID', `${file.name} is ${content.size} bytes but its header says segments are ${header.segmentSize}`, 'archive only the files PostgreSQL names in %p; if this file is damaged, check the disk under pg_wal');
  }
  return { ...measured, systemId: header.systemId, segmentSize: header.segmentSize, ...(header.pgVersion !== undefined ? { pgVersion: header.pgVersion } : {}) };
}
