import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { nextPartSize, partsInFlight, type PartPlan } from '../../domain/part-plan';

/** Where one upload goes. */
export interface MultipartTarget {
  client: S3Client;
  bucket: string;
  /** The full key, prefix included. */
  key: string;
  contentType?: string;
  /** `If-None-Match: *` on the PutObject or CompleteMultipartUpload that makes the object visible. */
  createOnly?: boolean;
}

/** How one upload cuts and sends its parts. */
export interface MultipartTuning {
  plan: PartPlan;
  /** Most parts in flight at once. */
  queueSize: number;
  /** Budget for part buffers; fewer parts fly when parts are large (see partsInFlight). */
  memoryBytes: number;
  /** Stops the upload: parts in flight are cancelled. */
  signal?: AbortSignal;
  /** Told each part's number and size as it is sent (tests, benchmarks). */
  onPart?: (part: { partNumber: number; bytes: number; inFlight: number }) => void;
}

/**
 * Uploads `source` to one S3 object, its parts sized by `nextPartSize` as the bytes come,
 * so that any stream up to the plan's largest object fits S3's part count. A stream that
 * ends within its first part is one PutObject.
 *
 * Every request carries a CRC32 checksum header: S3 verifies each part on arrival, and a
 * bucket with Object Lock default retention refuses parts without one. Memory is the part
 * buffers, at most `part × (inFlight + 1)`: the parts in flight and the one filling.
 *
 * On any failure (the source errors, a part is refused, the signal aborts, the stream
 * passes the largest object, a create-only write finds the key taken) reading stops, parts
 * in flight are cancelled and awaited, and
 * the multipart upload is aborted before the promise rejects with the first error: a
 * rejection leaves nothing behind (if the abort itself fails, the bucket's
 * abort-incomplete-multipart lifecycle rule removes the parts).
 *
 * @returns the ETag S3 gave the object.
 * @throws the source's error, ObjectTooLargeError, or the SDK's error (the caller translates it).
 */
export async function uploadMultipart(target: MultipartTarget, source: AsyncIterable<Buffer>, tuning: MultipartTuning): Promise<{ etag?: string; parts: number }> {
  const { client, bucket, key } = target;
  const local = new AbortController();
  const signal = tuning.signal ? AbortSignal.any([tuning.signal, local.signal]) : local.signal;
  const done: CompletedPart[] = [];
  const flying = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let uploadId: string | undefined;
  let partNumber = 1;
  let sent = 0;
  // Allocated when its first byte arrives: a stream that ends on a part boundary (even at
  // the largest object, after the last part) asks for no part beyond it.
  let buffer: Buffer | undefined;
  let filled = 0;

  const send = async (part: Buffer): Promise<void> => {
    uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: target.contentType, ChecksumAlgorithm: 'CRC32' }), { abortSignal: signal })).UploadId;
    const limit = partsInFlight(part.length, tuning.memoryBytes, tuning.queueSize);
    while (flying.size >= limit && !failure) await Promise.race(flying);
    if (failure) throw failure.error;
    const number = partNumber;
    const flight: Promise<void> = client
      .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: part, ChecksumAlgorithm: 'CRC32' }), { abortSignal: signal })
      .then(
        (out) => void done.push({ PartNumber: number, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) }),
        (error: unknown) => {
          failure ??= { error };
          local.abort(error);
        },
      )
      .finally(() => flying.delete(flight));
    flying.add(flight);
    tuning.onPart?.({ partNumber: number, bytes: part.length, inFlight: flying.size });
    sent += part.length;
    partNumber += 1;
  };

  try {
    for await (const chunk of source) {
      for (let offset = 0; offset < chunk.length; ) {
        buffer ??= Buffer.allocUnsafe(nextPartSize(tuning.plan, partNumber, sent)); // throws past the largest object
        const taken = Math.min(chunk.length - offset, buffer.length - filled);
        chunk.copy(buffer, filled, offset, offset + taken);
        filled += taken;
        offset += taken;
        if (filled === buffer.length) {
          const part = buffer;
          buffer = undefined;
          filled = 0;
          await send(part);
        }
      }
      if (failure) throw failure.error;
    }
    const last = buffer?.subarray(0, filled) ?? Buffer.alloc(0);
    if (partNumber === 1) {
      const put = new PutObjectCommand({ Bucket: bucket, Key: key, Body: last, ContentType: target.contentType, ChecksumAlgorithm: 'CRC32', ...ifNoneMatch(target) });
      const out = await client.send(put, { abortSignal: signal });
      return { etag: out.ETag, parts: 1 };
    }
    if (last.length > 0) await send(last);
    await Promise.all(flying);
    if (failure) throw failure.error;
    done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const complete = new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done }, ...ifNoneMatch(target) });
    const out = await client.send(complete, { abortSignal: signal });
    return { etag: out.ETag, parts: done.length };
  } catch (error) {
    local.abort(error);
    await Promise.allSettled(flying);
    if (uploadId !== undefined) {
      // Not under the aborted signal: this call is the clean-up.
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    }
    // A request cancelled because a part failed first: the part's error is the story.
    throw failure !== undefined && error !== failure.error && isAbortError(error) ? failure.error : error;
  }
}

/** The condition of a create-only write: S3 refuses it with 412 when the key holds an object (the upload is then aborted). */
function ifNoneMatch(target: MultipartTarget): { IfNoneMatch?: string } {
  return target.createOnly ? { IfNoneMatch: '*' } : {};
}

/** The SDK's rejection of a request cancelled by our own abort (the first failure is the story). */
function isAbortError(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'AbortError';
}
