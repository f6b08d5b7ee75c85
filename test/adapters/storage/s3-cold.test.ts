/**
 * S3's archive storage classes cannot be emulated by s3rver (it stores everything readable):
 * the S3 client is mocked here and the exact commands are asserted.
 */
import { GetObjectCommand, HeadObjectCommand, InvalidObjectState, RestoreObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3Storage } from '../../../shared/adapters/storage/s3';
import { ObjectInColdStorageError } from '../../../shared/errors';

const s3 = mockClient(S3Client);
const storage = new S3Storage(new S3Client({ region: 'us-east-1' }), 'bkt', { prefix: 'team' });
const KEY = 'logical/monthly/app/20261101T030000Z-l-abcdef/dump';

beforeEach(() => s3.reset());

describe('S3 objects in cold storage', () => {
  it('a GET of an archived object is OBJECT_IN_COLD_STORAGE naming its class', async () => {
    s3.on(GetObjectCommand).rejects(new InvalidObjectState({ message: 'The operation is not valid for the object\'s storage class', $metadata: { httpStatusCode: 403 }, StorageClass: 'DEEP_ARCHIVE' }));
    const error = await storage.get(KEY).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectInColdStorageError);
    expect(error).toMatchObject({ code: 'OBJECT_IN_COLD_STORAGE', key: KEY, storageClass: 'DEEP_ARCHIVE' });
  });

  it('starts a 7-day standard retrieval of an archived object with no copy', async () => {
    s3.on(HeadObjectCommand).resolves({ StorageClass: 'GLACIER', ContentLength: 10 });
    s3.on(RestoreObjectCommand).resolves({});
    await expect(storage.startRetrieval(KEY, { days: 7 })).resolves.toEqual({ state: 'started', storageClass: 'GLACIER' });
    expect(s3.commandCalls(RestoreObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: 'bkt', Key: `team/${KEY}`, RestoreRequest: { Days: 7, GlacierJobParameters: { Tier: 'Standard' } } },
    ]);
  });

  it('does not ask twice: a retrieval under way, or a copy already there, is reported as such', async () => {
    s3.on(HeadObjectCommand).resolvesOnce({ StorageClass: 'GLACIER', Restore: 'ongoing-request="true"' }).resolvesOnce({ StorageClass: 'DEEP_ARCHIVE', Restore: 'ongoing-request="false", expiry-date="Fri, 27 Nov 2026 00:00:00 GMT"' });
    await expect(storage.startRetrieval(KEY, { days: 7 })).resolves.toEqual({ state: 'in-progress', storageClass: 'GLACIER' });
    await expect(storage.startRetrieval(KEY, { days: 7 })).resolves.toEqual({ state: 'ready', storageClass: 'DEEP_ARCHIVE' });
    expect(s3.commandCalls(RestoreObjectCommand)).toHaveLength(0);
  });

  it('a race with another retrieval request is "in progress"; an object not archived is "ready"', async () => {
    s3.on(HeadObjectCommand).resolvesOnce({ StorageClass: 'GLACIER' }).resolvesOnce({});
    s3.on(RestoreObjectCommand).rejects(new S3ServiceException({ name: 'RestoreAlreadyInProgress', $fault: 'client', $metadata: { httpStatusCode: 409 } }));
    await expect(storage.startRetrieval(KEY, { days: 7 })).resolves.toEqual({ state: 'in-progress', storageClass: 'GLACIER' });
    await expect(storage.startRetrieval(KEY, { days: 7 })).resolves.toEqual({ state: 'ready', storageClass: 'STANDARD' });
  });

  it('a refused request is ACCESS_DENIED naming the permission to grant', async () => {
    s3.on(HeadObjectCommand).resolves({ StorageClass: 'GLACIER' });
    s3.on(RestoreObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }));
    await expect(storage.startRetrieval(KEY, { days: 7 })).rejects.toMatchObject({ code: 'ACCESS_DENIED', message: expect.stringContaining('RestoreObject s3://bkt/team/'), hint: expect.stringContaining('s3:RestoreObject on arn:aws:s3:::bkt/team/') });
  });
});
