/**
 * Backups in cold storage. A monthly backup moves to S3 GLACIER or DEEP_ARCHIVE after a day
 * (the bucket's lifecycle rule); reading it then fails until an S3 restore request has
 * brought a temporary copy back, which takes hours. A restore that meets such an object
 * starts that retrieval and says when to come back, instead of failing obscurely.
 */
import { ObjectInColdStorageError, StrongboxError } from '../../errors';
import type { ColdRetrieval } from '../../ports/storage';

/** How long a retrieved copy stays readable: long enough to restore, validate and retry. */
export const RETRIEVAL_DAYS = 7;

/** Usual retrieval times of the standard tier, by storage class (AWS's published figures). */
const TYPICAL_WAIT: Record<string, string> = {
  GLACIER: '3 to 5 hours',
  DEEP_ARCHIVE: 'up to 12 hours',
};

/** True when `storage` can retrieve objects from a cold tier. */
export function hasColdRetrieval(storage: object): storage is ColdRetrieval {
  return typeof (storage as Partial<ColdRetrieval>).startRetrieval === 'function';
}

/**
 * Runs `read`; when it meets an object in cold storage, starts (or finds) its retrieval and
 * throws BACKUP_IN_COLD_STORAGE saying when the backup will be readable. Nothing else is
 * caught.
 */
export async function readingColdAware<T>(storage: object, backupId: string, now: Date, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof ObjectInColdStorageError)) throw error;
    if (!hasColdRetrieval(storage)) throw error;
    const { state, storageClass } = await storage.startRetrieval(error.key, { days: RETRIEVAL_DAYS });
    const wait = TYPICAL_WAIT[storageClass] ?? 'several hours';
    const what =
      state === 'started'
        ? `its retrieval was started now (${now.toISOString()}); it is usually readable in ${wait}`
        : state === 'in-progress'
          ? `its retrieval is already under way; from ${storageClass} it usually takes ${wait} from the request`
          : 'a retrieved copy is there now';
    throw new StrongboxError(
      'BACKUP_IN_COLD_STORAGE',
      `backup ${backupId} is in cold storage (${storageClass}): ${what}`,
      state === 'ready'
        ? 'run the same command again: the copy was not yet readable a moment ago'
        : `run the same command again once it is readable (the copy then stays ${RETRIEVAL_DAYS} days); nothing was changed on the target. For an urgent restore, take the newest backup that is not in cold storage (\`strongbox list\`)`,
      { cause: error },
    );
  }
}
