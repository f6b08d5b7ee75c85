import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Error } from './s3-errors';
import type { UnfinishedWrite } from '../../ports/storage';

/** Where an S3 storage keeps its objects: the bucket and the prefix its keys are under. */
export interface S3Place {
  client: S3Client;
  bucket: string;
  /** `''` or `<prefix>/`. */
  keyPrefix: string;
}

/**
 * The multipart uploads in progress under `keyPrefix + prefix`, page by page
 * (ListMultipartUploads, `pageSize` a page, continued by key and upload-id markers): each
 * with its key (without the storage's prefix), upload id and Initiated. S3 tells nothing
 * about the parts' times here, so `lastWriteAt` stays absent.
 */
export async function* listUploads(place: S3Place, prefix: string, pageSize: number): AsyncIterable<UnfinishedWrite> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    let page;
    try {
      const command = new ListMultipartUploadsCommand({ Bucket: place.bucket, Prefix: place.keyPrefix + prefix, MaxUploads: pageSize, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker });
      page = await place.client.send(command);
    } catch (error) {
      throw s3Error('ListMultipartUploads', `s3://${place.bucket}/${place.keyPrefix}${prefix}`, error);
    }
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || upload.UploadId === undefined || !upload.Key.startsWith(place.keyPrefix)) continue;
      yield { ref: upload.UploadId, key: upload.Key.slice(place.keyPrefix.length), ...(upload.Initiated ? { startedAt: upload.Initiated } : {}) };
    }
    if (!page.IsTruncated || (page.NextKeyMarker === undefined && page.NextUploadIdMarker === undefined)) return;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** Aborts one multipart upload (its parts are deleted); one already gone (NoSuchUpload) is fine. */
export async function abortUpload(place: S3Place, write: UnfinishedWrite): Promise<void> {
  if (write.key === undefined) return; // every S3 upload has its key: nothing of ours
  try {
    await place.client.send(new AbortMultipartUploadCommand({ Bucket: place.bucket, Key: place.keyPrefix + write.key, UploadId: write.ref }));
  } catch (error) {
    if ((error as { name?: string } | undefined)?.name === 'NoSuchUpload') return;
    throw s3Error('AbortMultipartUpload', `s3://${place.bucket}/${place.keyPrefix}${write.key}`, error);
  }
}
