import { z } from 'zod';
import { InputError } from '../errors';

/**
 * S3 ObjectCreated events, in AWS's shape. In AWS the bucket notifies an SNS topic that
 * fans out to the functions, so a handler receives either the S3 event itself (local
 * mode, direct invocation) or an SNS event whose messages are S3 events. Pure.
 */

/** One created object, with its key decoded. */
export interface CreatedObject {
  bucket: string;
  key: string;
  size: number;
  eventName: string;
}

export interface S3EventRecordInput {
  bucket: string;
  key: string;
  size: number;
  etag?: string;
  time: Date;
  region?: string;
  eventName?: 'ObjectCreated:Put' | 'ObjectCreated:CompleteMultipartUpload' | 'ObjectCreated:Copy';
}

/** S3 encodes keys in events as form-encoded URL components (space as `+`). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');
}

/** The inverse of encodeEventKey. */
export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Builds the S3 event AWS would deliver for one created object. */
export function objectCreatedEvent(input: S3EventRecordInput): { Records: unknown[] } {
  const region = input.region ?? 'us-east-1';
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: input.time.toISOString(),
        eventName: input.eventName ?? 'ObjectCreated:Put',
        userIdentity: { principalId: 'strongbox-local' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'local', 'x-amz-id-2': 'local' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'strongbox-object-created',
          bucket: { name: input.bucket, ownerIdentity: { principalId: 'strongbox-local' }, arn: `arn:aws:s3:::${input.bucket}` },
          object: {
            key: encodeEventKey(input.key),
            size: input.size,
            eTag: input.etag ?? '',
            sequencer: input.time.getTime().toString(16).toUpperCase().padStart(16, '0'),
          },
        },
      },
    ],
  };
}

const s3Record = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({ key: z.string().min(1), size: z.number().int().nonnegative().optional() }),
  }),
});
const s3Event = z.object({ Records: z.array(s3Record) });
const snsEvent = z.object({
  Records: z.array(z.object({ EventSource: z.literal('aws:sns'), Sns: z.object({ Message: z.string() }) })),
});

/**
 * The created objects an event speaks of. Accepts an S3 event, an SNS event carrying S3
 * events, and S3's `s3:TestEvent` (which names no object). Other record types are
 * ignored; a payload of neither shape throws InputError.
 */
export function parseObjectCreatedEvent(event: unknown): CreatedObject[] {
  const sns = snsEvent.safeParse(event);
  if (sns.success) {
    return sns.data.Records.flatMap((record) => {
      let inner: unknown;
      try {
        inner = JSON.parse(record.Sns.Message);
      } catch (error) {
        throw new InputError('an SNS message is not JSON', 'the ObjectCreated topic must carry S3 event notifications', { cause: error });
      }
      if ((inner as { Event?: unknown } | null)?.Event === 's3:TestEvent') return [];
      return parseObjectCreatedEvent(inner);
    });
  }
  const s3 = s3Event.safeParse(event);
  if (!s3.success) {
    throw new InputError('the event is neither an S3 nor an SNS event', 'the function expects S3 ObjectCreated notifications (directly or through SNS)');
  }
  return s3.data.Records.filter((record) => record.eventName.startsWith('ObjectCreated:')).map((record) => ({
    bucket: record.s3.bucket.name,
    key: decodeEventKey(record.s3.object.key),
    size: record.s3.object.size ?? 0,
    eventName: record.eventName,
  }));
}
