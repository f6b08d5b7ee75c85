import type { Readable } from 'node:stream';
import type { PresignedRequest } from '../../ports/presign';
import type { WalFileRef } from '../../domain/wal/file-ref';
import { walKeysOf } from '../../domain/wal/keys';
import type { WalRecord } from '../../domain/wal/record';
import { ObjectNotFoundError, StorageError } from '../../errors';
import type { WalArchiveDeps } from './deps';
import { WalNotFoundError } from './errors';
import { readRecord } from './records';

/** A file that is archived, and (presign mode) where to download it. */
export interface FetchPlan {
  status: 'found';
  record: WalRecord;
  download?: PresignedRequest;
}

/**
 * Looks up an archived file. A file is archived when its record exists, whatever objects
 * there are. With a presigner, the plan carries a presigned GET of the stored object.
 *
 * @throws WalNotFoundError when there is no record; ManifestError, StorageError.
 */
export async function prepareWalFetch(deps: WalArchiveDeps, file: WalFileRef): Promise<FetchPlan> {
  const record = await archivedRecord(deps, file);
  const download = deps.presigner ? await deps.presigner.presignGet(record.objectKey) : undefined;
  return { status: 'found', record, ...(download ? { download } : {}) };
}

/**
 * Bytes mode: the stored bytes of an archived file, as a stream, with its record (whose
 * storedSize and storedSha256 the reader should check).
 *
 * @throws WalNotFoundError when there is no record; StorageError when the record exists
 *   but its bytes do not (never WAL_NOT_FOUND: recovery must stop, not take it for the end of WAL).
 */
export async function readWalBody(deps: WalArchiveDeps, file: WalFileRef): Promise<{ record: WalRecord; body: Readable }> {
  const { database, name } = file;
  const record = await archivedRecord(deps, file);
  try {
    return { record, body: await deps.storage.get(record.objectKey) };
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
    deps.log.error('archived WAL file has no bytes', { database, segment: name, objectKey: record.objectKey });
    throw new StorageError(
      `${name} is recorded as archived for database "${database}" but ${record.objectKey} is missing`,
      'the archive is damaged: restore the object from the bucket\'s versions if it has them, and take a new base backup now',
      { cause: error },
    );
  }
}

async function archivedRecord(deps: WalArchiveDeps, file: WalFileRef): Promise<WalRecord> {
  // The record's key does not depend on the compression.
  const record = await readRecord(deps.storage, walKeysOf(file, 'none').recordKey);
  if (!record) throw new WalNotFoundError(file.database, file.name);
  return record;
}
