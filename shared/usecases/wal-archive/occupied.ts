import { WalContentInvalidError } from '../../errors';
import type { WalContent } from '../../ports/wal-codec';
import { hasConditionalDelete, type ObjectInfo } from '../../ports/storage';
import { ObjectNotFoundError } from '../../errors';
import type { WalArchiveDeps } from './deps';
import { WalPushBusyError } from './errors';
import { finishPush } from './finish';
import type { PushOutcome } from './push';
import { answerArchived, readRecord, type WalTarget } from './records';
import { checkWalContent } from './verify';

/** Default of WalArchiveDeps.unrecordedGraceMs: longer than a presigned URL lives (15 min). */
export const UNRECORDED_GRACE_MS = 20 * 60 * 1000;

/**
 * A push found the file's object key taken (its create-only write was refused, or a
 * prepare saw an object there) and decides what that object is, without ever writing over
 * it:
 *
 * 1. a record exists: the file is archived; the usual answer (same bytes: `exists`, other
 *    bytes: WAL_CONFLICT with its alert);
 * 2. the object decodes to this push's file (same decoded size and SHA-256, header
 *    checked), perhaps encoded by another codec version: it is recorded as it is stored
 *    (a push that uploaded it and died before its record, or one racing us);
 * 3. other bytes, younger than the grace: another push of the name is between its upload
 *    and its record: WAL_PUSH_BUSY (retryable; next time case 1 answers);
 * 4. other bytes, older than the grace: an abandoned upload whose record never came (no
 *    live push takes that long from upload to record): removed, and the key is `free`.
 *
 * Resolves the push's outcome, or `free` when the key holds nothing (any more).
 *
 * @throws WalConflictError, WalPushBusyError, the refusals of verify.ts, StorageError.
 */
export async function settleOccupied(deps: WalArchiveDeps, target: WalTarget, seen?: ObjectInfo): Promise<PushOutcome | 'free'> {
  const record = await readRecord(deps.storage, target.recordKey);
  if (record) return answerArchived(deps, target, record);
  const info = seen ?? (await deps.storage.head(target.objectKey));
  if (!info) return 'free';
  const declared = target.declaration;
  let content: WalContent | undefined;
  try {
    content = await deps.codec.inspect(await deps.storage.get(target.objectKey), declared.compression, declared.size);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return 'free';
    if (!(error instanceof WalContentInvalidError)) throw error;
  }
  if (content && content.size === declared.size && content.sha256 === declared.sha256) {
    const adopted: WalTarget = { ...target, declaration: { ...declared, storedSize: content.storedBytes, storedSha256: content.storedSha256 } };
    checkWalContent(adopted, content);
    deps.log.info('WAL push found its file already uploaded; recording it', { database: target.database, segment: target.name, sameEncoding: content.storedSha256 === declared.storedSha256 });
    return finishPush(deps, adopted);
  }
  const grace = deps.unrecordedGraceMs ?? UNRECORDED_GRACE_MS;
  const age = deps.clock().getTime() - info.lastModified.getTime();
  if (age < grace) throw new WalPushBusyError(target.database, target.name, target.objectKey, Math.round(grace / 1000));
  // Removed only if it is still the object judged: another push may have removed it and uploaded its own meanwhile.
  if (!(await removeIfUnchanged(deps, target.objectKey, info))) throw new WalPushBusyError(target.database, target.name, target.objectKey, Math.round(grace / 1000));
  deps.log.warn('WAL push removed an abandoned unrecorded upload of other bytes', { database: target.database, segment: target.name, objectKey: target.objectKey, ageSeconds: Math.round(age / 1000) });
  return 'free';
}

/**
 * Deletes `key` only if it still holds the object `seen` describes: storage's conditional
 * delete (S3 `If-Match: <ETag>`) when it has one; otherwise a HEAD just before the delete,
 * which leaves a window of one round trip. False when the key now holds another object.
 */
async function removeIfUnchanged(deps: WalArchiveDeps, key: string, seen: ObjectInfo): Promise<boolean> {
  if (seen.etag !== undefined && hasConditionalDelete(deps.storage)) return deps.storage.deleteIfUnchanged(key, seen.etag);
  const now = await deps.storage.head(key);
  if (!now) return true;
  if (now.size !== seen.size || now.lastModified.getTime() !== seen.lastModified.getTime()) return false;
  await deps.storage.delete([key]);
  return true;
}
