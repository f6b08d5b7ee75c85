import { Readable } from 'node:stream';
import type { PresignedRequest } from '../../adapters/storage/presign';
import { BufferPool } from '../../runtime/buffer-pool';
import { walRecordKey } from '../../domain/wal/keys';
import type { WalRecord } from '../../domain/wal/record';
import { ObjectNotFoundError } from '../../errors';
import { assertWalTarget, parseWalDeclaration, type WalDeclaration } from './declaration';
import type { WalArchiveDeps } from './deps';
import { BodyTooLargeError, UploadInterruptedError, WalChecksumMismatchError } from './errors';
import { checkIdentity, ensureIdentity } from './identity';
import { withKeyLock } from './lock';
import { answerArchived, buildRecord, readRecord, walTarget, type WalTarget } from './records';
import { isContentRefusal, verifyWalContent } from './verify';

/**
 * Pushing one WAL file: prepare, then the bytes (through the endpoint, or presigned
 * straight to storage and then `complete`). A file counts as archived only once its
 * record is written, and the record is written only after the bytes were verified
 * (verify.ts: hashed, decoded to exactly the declared size, a segment's header matching
 * its name and cluster) and the archive identity checked or, by the first verified
 * segment, created. Within one process, pushes of the same file take turns (lock.ts); across
 * processes, the record is read again after the bytes are stored, so a push that lost a
 * race answers `exists` or `conflict` like a late one.
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
export async function prepareWalPush(deps: WalArchiveDeps, database: string, name: string, declaration: unknown): Promise<PushPlan> {
  const target = await openTarget(deps, database, name, declaration);
  const record = await readRecord(deps.storage, target.recordKey);
  if (record) return answerArchived(deps, target, record);
  const { storedSize, storedSha256 } = target.declaration;
  const upload = deps.presigner ? await deps.presigner.presignPut(target.objectKey, { contentLength: storedSize, sha256: storedSha256 }) : undefined;
  deps.log.info('WAL push prepared', { database, segment: name, storedSize, presigned: upload !== undefined });
  return { status: 'upload', objectKey: target.objectKey, declaration: target.declaration, ...(upload ? { upload } : {}) };
}

/**
 * Bytes mode: streams `body` into storage while hashing it, then records the file.
 * `body` is left unread when the answer is known first (declared size over `maxBytes`,
 * already archived, conflict): the transport decides what to do with the rest.
 *
 * @throws BodyTooLargeError (more than `storedSize` or `maxBytes`; nothing kept), the
 *   refusals of verify.ts (WalContentInvalidError, WAL_HEADER_INVALID; nothing kept),
 *   WalChecksumMismatchError (nothing kept), UploadInterruptedError (the body failed),
 *   WalConflictError, SystemIdMismatchError, InputError, StorageError.
 */
export function storeWalBody(deps: WalArchiveDeps, database: string, name: string, declaration: unknown, body: Readable, maxBytes: number): Promise<PushOutcome> {
  return storeWalBytes(deps, database, name, declaration, (into) => receiveAtMost(body, into, name), maxBytes);
}

/**
 * Bytes mode with the bytes from `fill` (a request body, or a file handed over on the same
 * host): `fill` gets a buffer of the declared stored size, fills it from the start and
 * resolves how many bytes it put there (more than fit: it throws BodyTooLargeError). It is
 * called only when the file is not archived yet. The bytes are hashed as they are written,
 * then the file is recorded.
 *
 * @throws what `fill` throws (nothing kept), the refusals of verify.ts (nothing kept), BodyTooLargeError (declared size over
 *   `maxBytes`), WalChecksumMismatchError (nothing kept), WalConflictError,
 *   SystemIdMismatchError, InputError, StorageError.
 */
export async function storeWalBytes(deps: WalArchiveDeps, database: string, name: string, declaration: unknown, fill: (into: Buffer) => Promise<number>, maxBytes: number): Promise<PushOutcome> {
  assertWalTarget(database, name);
  const declared = parseWalDeclaration(name, declaration);
  if (declared.storedSize > maxBytes) throw new BodyTooLargeError(`the declared size of ${name} (${declared.storedSize} bytes)`, maxBytes);
  return withKeyLock(walRecordKey(database, name), async () => {
    const target = await openTarget(deps, database, name, declared);
    const record = await readRecord(deps.storage, target.recordKey);
    if (record) return answerArchived(deps, target, record);
    const received = bodyBuffers.take(declared.storedSize);
    try {
      const bytes = await fill(received);
      if (bytes !== declared.storedSize) throw new WalChecksumMismatchError(target.objectKey, describe(declared.storedSize, declared.storedSha256), `${bytes} bytes`);
      // Verified before anything is written: a refused push leaves nothing in storage.
      await verifyWalContent(target, Readable.from([received]));
      const written = await deps.storage.putBytes(target.objectKey, received, { contentType: 'application/octet-stream' });
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
 * Presign mode: re-reads the uploaded object (streamed, never held whole), verifies it
 * as `storeWalBody` does (verify.ts), then records the file.
 *
 * @throws the refusals of verify.ts (the object is removed, nothing recorded),
 *   WalChecksumMismatchError (the object is removed; also when nothing was
 *   uploaded), WalConflictError, SystemIdMismatchError, InputError, StorageError.
 */
export async function completeWalPush(deps: WalArchiveDeps, database: string, name: string, declaration: unknown): Promise<PushOutcome> {
  assertWalTarget(database, name);
  const declared = parseWalDeclaration(name, declaration);
  return withKeyLock(walRecordKey(database, name), async () => {
    const target = await openTarget(deps, database, name, declared);
    const info = await deps.storage.head(target.objectKey);
    let refusal: unknown;
    // A wrong size is decided by the HEAD alone: no need to read 16 MB to know.
    if (info && info.size === declared.storedSize) {
      try {
        await verifyWalContent(target, await deps.storage.get(target.objectKey));
        return await finishPush(deps, target);
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

/** Validates names and declaration, and checks or creates the archive identity. */
async function openTarget(deps: WalArchiveDeps, database: string, name: string, declaration: unknown): Promise<WalTarget> {
  assertWalTarget(database, name);
  const declared = parseWalDeclaration(name, declaration);
  // A segment's name is checked against its own segment size before it may found an identity.
  const early = declared.segmentSize !== undefined ? walTarget(database, name, declared) : undefined;
  // Checked, never created, before the bytes are verified: a request alone must not fix an archive's identity.
  const identity = await checkIdentity(deps, database, declared);
  return early ?? walTarget(database, name, declared, identity?.segmentSize);
}

/** Verified bytes are in storage: re-check for a record and the identity, then write the record. */
async function finishPush(deps: WalArchiveDeps, target: WalTarget): Promise<PushOutcome> {
  const record = await readRecord(deps.storage, target.recordKey);
  if (record) {
    // Archived meanwhile in another compression: our object is an unrecorded duplicate.
    if (record.objectKey !== target.objectKey) await deps.storage.delete([target.objectKey]);
    return answerArchived(deps, target, record);
  }
  if (target.declaration.systemId !== undefined) {
    try {
      // The bytes are verified: the first segment of an archive may now found its identity.
      await ensureIdentity(deps, target.database, target.declaration);
    } catch (error) {
      await deps.storage.delete([target.objectKey]);
      throw error;
    }
  }
  const fresh = buildRecord(target, deps.clock());
  await deps.storage.putBytes(target.recordKey, `${JSON.stringify(fresh, null, 2)}\n`, { contentType: 'application/json' });
  deps.log.info('WAL file archived', { database: target.database, segment: target.name, kind: fresh.kind, storedSize: fresh.storedSize, objectKey: fresh.objectKey });
  return { status: 'stored', record: fresh };
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
