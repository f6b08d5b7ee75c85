import { ObjectExistsError, StorageError } from '../../errors';
import type { PushOutcome } from './push';
import type { WalArchiveDeps } from './deps';
import { ensureIdentity } from './identity';
import { answerArchived, buildRecord, readRecord, type WalTarget } from './records';
import type { WalRecord } from '../../domain/wal/record';

/**
 * Verified bytes are at `target.objectKey`: writes the record that makes the file
 * archived (`deferred`: its decoded size and SHA-256 not read yet, verify.ts). The record is written create-only, so it is written once for all time: of
 * pushes racing on one name (in one process or in several endpoint instances), exactly one
 * writes it, and every other one reads the winner's and answers as a late push would
 * (same bytes: `exists`; other bytes: WAL_CONFLICT and its alert).
 *
 * @throws WalConflictError, SystemIdMismatchError (our object is removed), StorageError.
 */
export async function finishPush(deps: WalArchiveDeps, target: WalTarget, decoded: 'checked' | 'deferred' = 'checked'): Promise<PushOutcome> {
  // No read of the record first: the create-only write below refuses a record already there, and that path answers as a late push.
  // An identity the push already read and checked is final (written once): only the first segment's push founds it.
  if (target.declaration.systemId !== undefined && target.identity === undefined) {
    try {
      // The bytes are verified: the first segment of an archive may now found its identity.
      await ensureIdentity(deps, target.database, target.declaration);
    } catch (error) {
      await deps.storage.delete([target.objectKey]);
      throw error;
    }
  }
  const fresh = buildRecord(target, deps.clock(), decoded);
  try {
    await deps.storage.putBytes(target.recordKey, `${JSON.stringify(fresh, null, 2)}\n`, { contentType: 'application/json', createOnly: true });
  } catch (error) {
    if (!(error instanceof ObjectExistsError)) throw error;
    const winner = await readRecord(deps.storage, target.recordKey);
    if (!winner) throw new StorageError(`${target.recordKey} was there a moment ago and is gone`, 'check that nothing deletes records under wal/ in the repository, then push again');
    deps.log.info('WAL push lost the race for its record', { database: target.database, segment: target.name });
    return answerRecorded(deps, target, winner);
  }
  deps.log.info('WAL file archived', { database: target.database, segment: target.name, kind: fresh.kind, storedSize: fresh.storedSize, objectKey: fresh.objectKey });
  return { status: 'stored', record: fresh };
}

/**
 * The answer once a record exists. When it names another object (the file was archived in
 * another compression), the object at our key can never be recorded (records are never
 * replaced): it is an unrecorded duplicate, removed.
 */
async function answerRecorded(deps: WalArchiveDeps, target: WalTarget, record: WalRecord): Promise<PushOutcome> {
  if (record.objectKey !== target.objectKey) await deps.storage.delete([target.objectKey]);
  return answerArchived(deps, target, record);
}
