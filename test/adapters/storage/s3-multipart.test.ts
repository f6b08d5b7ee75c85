import { GetObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { S3_PART_LIMITS, type PartLimits } from '../../../shared/domain/part-plan';
import { S3Storage, type S3StorageOptions } from '../../../shared/adapters/storage/s3';
import { ObjectTooLargeError, StorageError } from '../../../shared/errors';
import { CallRecorder, LIMITS } from '../../support/aws-rules/recorder';
import { startS3Server, type S3TestServer } from '../../support/s3-server';

const MIB = 1024 * 1024;

/**
 * S3's part rules scaled down 500 times: 20 parts instead of 10,000, so that a few hundred
 * MiB exercise what a multi-terabyte upload meets. The plan's limits and the harness's rule
 * (test/support/aws-rules/recorder.ts: part 21 is refused, as S3 refuses part 10,001) agree.
 */
const SCALED: PartLimits = { maxParts: 20, minPartBytes: 5 * MIB, maxObjectBytes: 300 * MIB, growthLimitBytes: 32 * MIB, slackParts: 4 };

/** `bytes` of random data in 1 MiB chunks, made as read (nothing held), and their SHA-256 once read. */
function randomStream(bytes: number): { body: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let left = bytes;
  const body = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomBytes(Math.min(MIB, left));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { body, sha256: () => hash.digest('hex') };
}

describe('S3Storage multipart uploads under a scaled-down part limit (s3rver)', () => {
  let server: S3TestServer;
  const recorder = new CallRecorder();

  beforeAll(async () => {
    server = await startS3Server('strongbox-parts');
    recorder.instrument(server.client, 'S3');
    recorder.limits = { ...LIMITS, s3Parts: SCALED.maxParts, s3PartBytes: SCALED.growthLimitBytes };
    // Every PutObject and UploadPart must carry a checksum header, as Object Lock demands.
    recorder.strictness = { objectLock: true };
  });
  beforeEach(() => {
    recorder.calls.length = 0;
    recorder.brokenLimits.length = 0;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const storageWith = (options: S3StorageOptions = {}): S3Storage => new S3Storage(server.client, server.bucket, { partSizeBytes: 5 * MIB, partLimits: SCALED, ...options });
  /** The UploadPart calls sent for `key`, in part order, without their bodies (which the recorder would keep alive). */
  const partsOf = (key: string): { partNumber: number; bytes: number; outcome: string }[] =>
    recorder.calls
      .filter((call) => call.command === 'UploadPart' && call.input.Key === key)
      .map((call) => ({ partNumber: Number(call.input.PartNumber), bytes: (call.input.Body as Buffer).length, outcome: call.outcome }))
      .sort((a, b) => a.partNumber - b.partNumber);
  async function expectNothingAt(key: string): Promise<void> {
    const uploads = await server.client.send(new ListMultipartUploadsCommand({ Bucket: server.bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await storageWith().head(key)).toBeUndefined();
  }
  async function storedSha256(key: string): Promise<string> {
    const out = await server.client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
    const hash = createHash('sha256');
    for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  it('grows its parts when the stream outruns the estimate, and completes byte-identical within 20 parts', async () => {
    // Prepare: 200 MiB announced as 8 MiB; fixed 5 MiB parts would need 40
    const source = randomStream(200 * MIB);
    // Act
    const written = await storageWith().putStream('grow/dump', source.body, { sizeEstimate: 8 * MIB });
    // Assess
    const parts = partsOf('grow/dump');
    recorder.calls.length = 0;
    expect(recorder.brokenLimits).toEqual([]);
    expect(parts.length).toBeLessThanOrEqual(20);
    expect(parts.every((part) => part.outcome === 'ok')).toBe(true);
    expect(parts[0]?.bytes).toBe(5 * MIB);
    expect(Math.max(...parts.map((part) => part.bytes))).toBeGreaterThan(5 * MIB);
    expect(parts.slice(0, -1).every((part) => part.bytes >= 5 * MIB && part.bytes <= SCALED.growthLimitBytes)).toBe(true);
    expect(parts.reduce((sum, part) => sum + part.bytes, 0)).toBe(200 * MIB);
    expect(written).toEqual({ key: 'grow/dump', bytes: 200 * MIB, sha256: source.sha256() });
    expect(await storedSha256('grow/dump')).toBe(written.sha256);
  });

  it('is refused at part 21 by the harness when parts do not grow, and the failed upload leaves nothing behind', async () => {
    // Prepare: a plan that believes in 10,000 parts, against the scaled rule of 20: fixed 5 MiB parts
    const storage = storageWith({ partLimits: S3_PART_LIMITS });
    // Act
    const error = await storage.putStream('fixed/dump', randomStream(120 * MIB).body).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(/Part number must be an integer between 1 and 20/);
    expect(recorder.brokenLimits).toHaveLength(1);
    expect(recorder.calls.filter((call) => call.command === 'AbortMultipartUpload')).toHaveLength(1);
    recorder.calls.length = 0;
    await expectNothingAt('fixed/dump');
  });

  it('refuses an estimate over the largest object with OBJECT_TOO_LARGE before any request', async () => {
    // Prepare
    const source = randomStream(10 * MIB);
    // Act
    const error = await storageWith().putStream('estimate/dump', source.body, { sizeEstimate: SCALED.maxObjectBytes + 1 }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ObjectTooLargeError);
    expect(error).toMatchObject({ code: 'OBJECT_TOO_LARGE', hint: expect.stringMatching(/5 TiB/) });
    expect(recorder.calls).toEqual([]);
    expect(source.body.destroyed).toBe(true);
  });

  it('refuses a stream that passes the largest object with OBJECT_TOO_LARGE, aborting its upload', async () => {
    // Prepare: a 40 MiB largest object (parts grow to 8 MiB), and 48 MiB of data
    const small: PartLimits = { maxParts: 20, minPartBytes: 5 * MIB, maxObjectBytes: 40 * MIB, growthLimitBytes: 8 * MIB, slackParts: 4 };
    // Act
    const error = await storageWith({ partLimits: small }).putStream('past/dump', randomStream(48 * MIB).body, { sizeEstimate: 10 * MIB }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ObjectTooLargeError);
    expect((error as Error).message).toMatch(/passed 40\.00 MiB \(41943040 bytes\).*aborted/);
    expect(partsOf('past/dump').reduce((sum, part) => sum + part.bytes, 0)).toBeLessThanOrEqual(40 * MIB);
    recorder.calls.length = 0;
    await expectNothingAt('past/dump');
  });

  it('stops when its signal aborts mid-upload: no upload and no object left', async () => {
    // Prepare: abort once the sixth part (a grown one) is on its way
    const controller = new AbortController();
    const storage = storageWith({ onPart: (part) => void (part.partNumber === 6 && controller.abort(new Error('stop requested'))) });
    // Act
    const error = await storage.putStream('abort/dump', randomStream(200 * MIB).body, { sizeEstimate: 8 * MIB, signal: controller.signal }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(/aborted; nothing was stored/);
    recorder.calls.length = 0;
    await expectNothingAt('abort/dump');
  });

  it('flies fewer parts at once when the memory budget holds few parts', async () => {
    // Prepare: room for two 5 MiB parts (one sending, one filling), queue of 4
    const inFlight: number[] = [];
    const storage = storageWith({ uploadMemoryBytes: 12 * MIB, queueSize: 4, onPart: (part) => void inFlight.push(part.inFlight) });
    // Act
    await storage.putStream('memory/dump', randomStream(30 * MIB).body);
    recorder.calls.length = 0;
    // Assess
    expect(inFlight.length).toBe(6);
    expect(Math.max(...inFlight)).toBe(1);
  });
});
