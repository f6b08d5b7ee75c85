/**
 * Retrieval of archived objects (S3 GLACIER / DEEP_ARCHIVE): an S3 restore request brings
 * back a temporary readable copy after hours. HeadObject's `x-amz-restore` header tells a
 * retrieval under way (`ongoing-request="true"`) from a copy already there.
 */
import { HeadObjectCommand, RestoreObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { RetrievalState } from '../../ports/storage';
import { s3Error } from './s3-errors';

const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/**
 * Starts the retrieval of `key` for `days` days (standard tier) unless the object is not
 * archived, a copy is there, or a retrieval is under way.
 *
 * @throws StorageError when S3 refuses (credentials need s3:RestoreObject).
 */
export async function startS3Retrieval(client: S3Client, bucket: string, key: string, days: number, describe: string): Promise<{ state: RetrievalState; storageClass: string }> {
  let storageClass = 'STANDARD';
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    storageClass = head.StorageClass ?? 'STANDARD';
    if (!ARCHIVE_CLASSES.has(storageClass)) return { state: 'ready', storageClass };
    if (head.Restore?.includes('ongoing-request="true"')) return { state: 'in-progress', storageClass };
    if (head.Restore?.includes('ongoing-request="false"')) return { state: 'ready', storageClass };
    await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: key, RestoreRequest: { Days: days, GlacierJobParameters: { Tier: 'Standard' } } }));
    return { state: 'started', storageClass };
  } catch (error) {
    // Two callers at once: the second request meets the first one's retrieval.
    if ((error as { name?: string }).name === 'RestoreAlreadyInProgress') return { state: 'in-progress', storageClass };
    throw s3Error('RestoreObject', describe, error);
  }
}
