import type { Readable } from 'node:stream';
import type { PresignedRequest } from '../../ports/presign';
import { hasRangedReads, hasStoredChecksums } from '../../ports/storage';
import { HEAD_PREFIX_BYTES } from '../../ports/wal-codec';
import { BufferPool } from '../../domain/buffer-pool';
import { walKeysOf } from '../../domain/wal/keys';
import type { WalRecord } from '../../domain/wal/record';
import { ObjectExistsError, ObjectNotFoundError } from '../../errors';
import type { DeclaredWalFile, WalDeclaration } from './declaration';
import type { WalArchiveDeps } from './deps';
import { BodyTooLargeError, UploadInterruptedError, WalChecksumMismatchError, WalPushBusyError } from './errors';
import { finishPush } from './finish';
import { checkIdentity } from './identity';
import { withKeyLock } from './lock';
import { settleOccupied, UNRECORDED_GRACE_MS } from './occupied';
import { answerArchived, readRecord, walTarget, type WalTarget } from './records';
import { isContentRefusal, verifyUploadedObject, verifyWalContent } from './verify';

/**
 * Pushing one WAL file: prepare, then the bytes (through the endpoint, or presigned
 * straight to storage and then `complete`). A file counts as archived only once its
 * record is written, and the record is written only after the bytes were verified
 * (verify.ts: hashed, decoded to exactly the declared size, a segment's header matching
 * its name and cluster) and the archive identity checked or, by the first verified
 * segment, created.
 *
 * Nothing archived is ever overwritten, whatever runs at once (one endpoint or several
 * instances): storage enforces it. The object, the record and the identity are written
 * create-only (storage.ts: S3 `If-None-Match: *`, the folder's exclusive link; a presigned
 * PUT carries the header signed). A push whose write is refused decides what the key holds
 * (occupied.ts, finish.ts) and answers as a late push would: same bytes → `exists`, other
 * bytes → WAL_CONFLICT with its alert. Within one instance, pushes of the same file also take
 * turns (lock.ts), which only saves work.
 */

/** What `prepareWalPush` decided: already archived, or where to send the bytes. */
export type PushPlan =
  | { status: 'exists'; record: WalRecord }
  | { status: 'upload'; objectKey: string; declaration: WalDeclaration; upload?: PresignedRequest };

/** The end of a push: the record that makes the file archived. */
export interface PushOutcome {
  status: 'stored' | 'exists';
  record: WalRecord;
}

/**
 * Validates the request, checks (or creates, for the first segment) the archive identity,
 * and looks for a record. With a presigner, the plan carries a presigned PUT pinned to the
 * declared stored size and SHA-256.
 *
 * @throws InputError, BAD_WAL_NAME, SystemIdMismatchError, WalConflictError (after an alert), StorageError.
 */
export async function prepareWalPush(deps: WalArchiveDeps, declared: DeclaredWalFile): Promise<PushPlan> {
  const target = await openTarget(deps, declared);
  const { database, name } = target;
  // The object too (in parallel): an upload whose push died before its record would refuse every later create-only PUT.
  const [record, object] = await Promise.all([readRecord(deps.storage, target.recordKey), deps.storage.head(target.objectKey)]);
  if (record) return answerArchived(deps, target, record);
  if (object) {
    const settled = await settleOccupied(deps, target, object);
    if (settled !== 'free') return { status: 'exists', record: settled.record };
  }
  const { storedSize, storedSha256 } = target.declaration;
  const upload = deps.presigner ? await deps.presigner.presignPut(target.objectKey, { contentLength: storedSize, sha256: storedSha256, createOnly: true }) : undefined;
  deps.log.info('WAL push prepared', { database, segment: name, storedSize, presigned: upload !== undefined });
  return { status: 'upload', objectKey: target.objectKey, declaration: target.declaration, ...(upload ? { upload } : {}) };
}

/**
 * Bytes mode: reads `body` into one buffer of the declared stored size, verifies it and
 * stores it, then records the file. `body` is left unread when the answer is known first
 * (declared size over `maxBytes`, already archived, conflict): the transport decides what
 * to do with the rest.
 *
 * @throws BodyTooLargeError (more than `storedSize` or `maxBytes`; nothing kept), the
 *   refusals of verify.ts (WalContentInvalidError, WAL_HEADER_INVALID; nothing kept),
 *   WalChecksumMismatchError (nothing kept), UploadInterruptedError (the body failed),
 *   WalConflictError, SystemIdMismatchError, InputError, StorageError.
 */
export async function storeWalBody(deps: WalArchiveDeps, request: DeclaredWalFile, body: Readable, maxBytes: number): Promise<PushOutcome> {
  const { file, declaration: declared } = request;
  const { database, name } = file;
  if (declared.storedSize > maxBytes) throw new BodyTooLargeError(`the declared size of ${name} (${declared.storedSize} bytes)`, maxBytes);
  return withKeyLock(deps, walKeysOf(file, declared.compression).recordKey, async () => {
    const target = await openTarget(deps, request);
    const record = await readRecord(deps.storage, target.recordKey);
    if (record) return answerArchived(deps, target, record);
    const received = bodyBuffers.take(declared.storedSize);
    try {
      const bytes = await receiveAtMost(body, received, name);
      if (bytes !== declared.storedSize) throw new WalChecksumMismatchError(target.objectKey, describe(declared.storedSize, declared.storedSha256), `${bytes} bytes`);
      // Verified before anything is written: a refused push leaves nothing in storage.
      await verifyWalContent(deps.codec, target, received);
      const written = await writeCreateOnly(deps, target, received);
      if (written.status !== 'written') return written.outcome;
      if (written.bytes !== declared.storedSize || written.sha256 !== declared.storedSha256) {
        await deps.storage.delete([target.objectKey]);
        throw new WalChecksumMismatchError(target.objectKey, describe(declared.storedSize, declared.storedSha256), describe(written.bytes, written.sha256));
      }
    } catch (error) {
      if (isContentRefusal(error)) deps.log.warn('WAL push refused: the bytes are not the declared file', { database, segment: name, code: (error as { code?: string }).code });
      throw error;
    } finally {
      bodyBuffers.give(received);
    }
    return finishPush(deps, target);
  });
}

/**
 * Presign mode: verifies the uploaded object as `storeWalBody` does, then records the file.
 * The presigned PUT carried the declared SHA-256 as a signed `x-amz-checksum-sha256`, so S3
 * stored it only if the body hashes to it; a HEAD with checksum mode reads that back, and
 * an uncompressed file is then read no further than its first page's header, a compressed
 * one no further than a prefix that decodes to that header, its record then marking the
 * decoded size and SHA-256 as deferred (verifyUploadedObject; deferred-check.ts). One
 * storage has no SHA-256 for, or a small one, is re-read whole (streamed, never held whole). The host calls it only after its own presigned PUT
 * succeeded; that PUT was create-only, so the object at the key is the caller's upload,
 * and is removed when it is not the declared file (and not recorded).
 *
 * @throws the refusals of verify.ts (the object is removed, nothing recorded),
 *   WalChecksumMismatchError (the object is removed; also when nothing was
 *   uploaded), WalConflictError, SystemIdMismatchError, InputError, StorageError.
 */
export async function completeWalPush(deps: WalArchiveDeps, request: DeclaredWalFile): Promise<PushOutcome> {
  const { file, declaration: declared } = request;
  const { database, name } = file;
  const keys = walKeysOf(file, declared.compression);
  return withKeyLock(deps, keys.recordKey, async () => {
    const { storage } = deps;
    // The identity, the HEAD and (a large compressed segment) the prefix `complete` decodes, read at once: one round trip, not three.
    const prefix = hasRangedReads(storage) && wantsPrefix(request) ? storage.getRange(keys.objectKey, 0, HEAD_PREFIX_BYTES).catch(() => undefined) : undefined;
    const [target, info] = await Promise.all([openTarget(deps, request), hasStoredChecksums(storage) ? storage.headWithChecksum(keys.objectKey) : storage.head(keys.objectKey)]);
    let refusal: unknown;
    // A wrong size (or a SHA-256 storage verified) is decided by the HEAD alone: no need to read 16 MB to know.
    if (info && info.size === declared.storedSize) {
      try {
        const decoded = await verifyUploadedObject(deps, target, info, prefix);
        return await finishPush(deps, target, decoded);
      } catch (error) {
        if (!isContentRefusal(error) && !(error instanceof ObjectNotFoundError)) throw error;
        refusal = error;
      }
    }

    // Another push of this file may have completed meanwhile: its object is not ours to remove.
    const record = await readRecord(deps.storage, target.recordKey);
    if (record) return answerArchived(deps, target, record);
    if (info) await deps.storage.delete([target.objectKey]);
    if (refusal && !(refusal instanceof ObjectNotFoundError)) {
      deps.log.warn('WAL push refused: the uploaded object is not the declared file; it was removed', { database, segment: name, code: (refusal as { code?: string }).code });
      throw refusal;
    }
    const found = !info || refusal ? 'nothing (no object was uploaded)' : `${info.size} bytes`;
    throw new WalChecksumMismatchError(target.objectKey, describe(declared.storedSize, declared.storedSha256), found);
  });
}

/** True when `complete` will read a prefix of the object (verifyUploadedObject): a compressed segment larger than the prefix. */
function wantsPrefix({ file, declaration }: DeclaredWalFile): boolean {
  return declaration.compression !== 'none' && (file.kind === 'segment' || file.kind === 'partial') && declaration.storedSize > HEAD_PREFIX_BYTES;
}

/** Resolves the target of a declared file (names and declaration were validated at the edge), and checks the archive identity. */
export async function openTarget(deps: WalArchiveDeps, request: DeclaredWalFile): Promise<WalTarget> {
  const declared = request.declaration;
  // A segment's name is checked against its own segment size before it may found an identity.
  const early = declared.segmentSize !== undefined ? walTarget(request) : undefined;
  // Checked, never created, before the bytes are verified: a request alone must not fix an archive's identity.
  const identity = await checkIdentity(deps, request.file.database, declared);
  const target = early ?? walTarget(request, identity?.segmentSize);
  return identity ? { ...target, identity } : target;
}

/**
 * Writes verified bytes create-only (their verified SHA-256 is the declared one: the storage
 * does not hash them again). When the key is taken, settleOccupied decides: an
 * outcome (archived, or our file already there), or the key was freed and the write is
 * tried once more; taken again, another push is writing this name right now.
 */
export async function writeCreateOnly(deps: WalArchiveDeps, target: WalTarget, bytes: Buffer): Promise<({ status: 'written' } & { bytes: number; sha256: string }) | { status: 'settled'; outcome: PushOutcome }> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const written = await deps.storage.putBytes(target.objectKey, bytes, { contentType: 'application/octet-stream', createOnly: true, sha256: target.declaration.storedSha256 });
      return { status: 'written', bytes: written.bytes, sha256: written.sha256 };
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
    }
    const settled = await settleOccupied(deps, target);
    if (settled !== 'free') return { status: 'settled', outcome: settled };
    if (attempt === 2) throw new WalPushBusyError(target.database, target.name, target.objectKey, Math.round((deps.unrecordedGraceMs ?? UNRECORDED_GRACE_MS) / 1000));
  }
}

/**
 * Reads `body` into `into` (a segment is at most a few MiB compressed, 16 MiB raw: one
 * buffer and one write beat a stream of 64 KiB chunks through the storage). Resolves the
 * bytes received. Past `into`'s length it stops reading (pauses, without destroying the
 * request, so that the client gets the 413 rather than a reset) and throws BodyTooLargeError;
 * a body that fails or closes before its end throws UploadInterruptedError.
 */
function receiveAtMost(body: Readable, into: Buffer, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let filled = 0;
    const finish = (error?: Error) => {
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve(filled);
    };
    const onData = (chunk: Buffer) => {
      if (filled + chunk.length > into.length) {
        body.pause();
        return finish(new BodyTooLargeError(`the body of ${name}`, into.length));
      }
      chunk.copy(into, filled);
      filled += chunk.length;
    };
    const onEnd = () => finish();
    const onError = (error: Error) => finish(new UploadInterruptedError(name, { cause: error }));
    // A request whose client went away may close without an error: it must not leave the push waiting forever.
    const onClose = () => finish(body.readableEnded ? undefined : new UploadInterruptedError(name));
    body.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
    if (body.destroyed && !body.readableEnded) finish(new UploadInterruptedError(name));
  });
}

/** The bodies of bytes mode, reused from push to push (see BufferPool). */
const bodyBuffers = new BufferPool(4);

function describe(bytes: number, sha256: string): string {
  return `${bytes} bytes with SHA-256 ${sha256}`;
}
