import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { pipeline, Readable, Transform } from 'node:stream';

/**
 * What s3rver 3.7.1 does not do and AWS does (docs/FIELD-NOTES: it ignores If-None-Match):
 *
 * - Conditional writes. A PutObject or CompleteMultipartUpload with `If-None-Match: *` is
 *   refused with 412 PreconditionFailed when the key holds an object, and two of them on
 *   one key are decided one after the other (a per-key queue held until s3rver answered),
 *   so exactly one of writers racing on a new key wins, as on S3. Any other value of the
 *   header is 501 NotImplemented (S3 takes only `*`).
 * - Atomic writes. s3rver writes an object in place, and answers a PUT before its file is
 *   flushed, so a reader could see half an object (S3 never shows one). Writes of one key
 *   take turns, a GET or HEAD of a key waits for the write in flight, and a PUT is answered
 *   only once the file holds its Content-Length.
 * - Conditional deletes: a DeleteObject with `If-Match: <ETag>` deletes only that object
 *   (412 when the key holds another one, 404 when none), in the key's queue like a write.
 * - Presigned requests: every header named in `X-Amz-SignedHeaders` must be sent, or the
 *   request is 403 SignatureDoesNotMatch (s3rver does not check SigV4 at all). A client
 *   that drops a signed `If-None-Match` is refused here as S3 would refuse it.
 * - SHA-256 checksums (s3rver accepts a wrong one, FIELD-NOTES). A PutObject with an
 *   `x-amz-checksum-sha256` header whose body hashes to anything else is refused with 400
 *   BadDigest, nothing stored (a create-only PUT is hashed as it streams and its object
 *   removed before anyone can read it; another PUT is read whole first). The checksum is kept with the
 *   object's ETag, and a HEAD or whole-object GET with `x-amz-checksum-mode: ENABLED`
 *   answers it (`x-amz-checksum-sha256`, `x-amz-checksum-type: FULL_OBJECT`) as S3 does
 *   for a single PutObject; an object written without one (or since replaced) gets none.
 */

/** The part of a Koa context this middleware reads and writes. */
export interface ConditionalContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
  /** The request stream s3rver reads a PUT's body from (replaced once the harness has read it). */
  req: Readable;
  /** Sets a response header. */
  set(field: string, value: string): void;
  response: { get(field: string): string };
}

/** What the middleware asks s3rver's store. */
export interface ObjectStore {
  existsObject(bucket: string, key: string): Promise<boolean>;
  getMetadata(bucket: string, key: string): Promise<{ etag?: string }>;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  deleteObject(bucket: string, key: string): Promise<unknown>;
}

/** Counts of what the middleware decided, for tests that want to see it happen. */
export interface ConditionalStats {
  /** Conditional writes let through (the key was free). */
  created: number;
  /** Conditional writes refused with 412. */
  refused: number;
}

/** A Koa middleware enforcing conditional writes and signed headers on s3rver's store. */
export function conditionalWrites(store: ObjectStore, stats: ConditionalStats = { created: 0, refused: 0 }) {
  const tails = new Map<string, Promise<void>>();
  /** SHA-256 (base64) verified on PUT, by key, with the ETag of the object it belongs to. */
  const checksums = new Map<string, { etag: string; sha256: string }>();
  return async (ctx: ConditionalContext, next: () => Promise<void>): Promise<void> => {
    const missing = missingSignedHeader(ctx);
    if (missing !== undefined) return answer(ctx, 403, 'SignatureDoesNotMatch', `the presigned request names ${missing} among its signed headers but does not send it`);
    const condition = header(ctx, 'if-none-match');
    const [bucket = '', ...rest] = ctx.path.split('/').slice(1).map((part) => decodeURIComponent(part));
    const key = rest.join('/');
    const slot = `${bucket}/${key}`;
    if (key === '') return next();
    const ifMatch = header(ctx, 'if-match');
    if (ctx.method === 'DELETE' && ifMatch !== undefined && ctx.query['uploadId'] === undefined) {
      return inQueue(slot, async () => {
        if (!(await store.existsObject(bucket, key))) return answer(ctx, 404, 'NoSuchKey', 'The specified key does not exist.');
        if ((await store.getMetadata(bucket, key)).etag !== ifMatch) return answer(ctx, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-Match');
        await next();
      });
    }
    if (!isObjectCreation(ctx)) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
      await tails.get(slot);
      await next();
      return answerChecksum(ctx, checksums.get(slot));
    }
    if (condition !== undefined && condition !== '*') return answer(ctx, 501, 'NotImplemented', 'If-None-Match accepts only *');
    const sha256 = ctx.method === 'PUT' ? header(ctx, 'x-amz-checksum-sha256') : undefined;
    // A create-only PUT is hashed as it streams in and its object removed when refused (the key was free);
    // any other PUT is read whole and hashed first, so that a refused one leaves the object it would replace.
    const whole = sha256 !== undefined && condition !== '*' ? await hashWhole(ctx) : undefined;
    if (whole !== undefined && whole !== sha256) return badDigest(ctx, whole);
    return inQueue(slot, async () => {
      if (condition !== undefined && (await store.existsObject(bucket, key))) {
        stats.refused += 1;
        return answer(ctx, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-None-Match');
      }
      // Only once the write goes ahead: a refused request's body is left to the server, unread, as before.
      const digest = sha256 !== undefined && condition === '*' ? hashAsItStreams(ctx) : whole;
      await next();
      const length = Number(header(ctx, 'content-length'));
      if (ctx.method === 'PUT' && ctx.status === 200 && Number.isSafeInteger(length)) await flushed(store.getResourcePath(bucket, key, 'object'), length);
      if (digest !== undefined && ctx.status === 200 && (await digest) !== sha256) {
        await store.deleteObject(bucket, key);
        return badDigest(ctx, await digest);
      }
      if (condition !== undefined && ctx.status >= 200 && ctx.status < 300) stats.created += 1;
      if (ctx.method === 'PUT' && ctx.status === 200) {
        const etag = ctx.response.get('ETag');
        if (sha256 !== undefined && etag !== '') checksums.set(slot, { etag, sha256 });
        else checksums.delete(slot);
      }
    });
  };

  /** Runs `section` after every earlier one of the same key: S3 decides one key's writes one at a time. */
  async function inQueue(slot: string, section: () => Promise<void>): Promise<void> {
    const previous = tails.get(slot) ?? Promise.resolve();
    let release!: () => void;
    const mine = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
    tails.set(slot, mine);
    await previous;
    try {
      await section();
    } finally {
      release();
      if (tails.get(slot) === mine) tails.delete(slot);
    }
  }
}

/** With `x-amz-checksum-mode: ENABLED`, a 200 HEAD or whole GET of an object PUT with a SHA-256 answers it. */
function answerChecksum(ctx: ConditionalContext, kept: { etag: string; sha256: string } | undefined): void {
  if (header(ctx, 'x-amz-checksum-mode')?.toUpperCase() !== 'ENABLED' || ctx.status !== 200 || header(ctx, 'range') !== undefined) return;
  if (kept === undefined || kept.etag !== ctx.response.get('ETag')) return;
  ctx.set('x-amz-checksum-sha256', kept.sha256);
  ctx.set('x-amz-checksum-type', 'FULL_OBJECT');
}

/** Reads the body whole and hands s3rver a copy; resolves its SHA-256 (base64). */
async function hashWhole(ctx: ConditionalContext): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  ctx.req = Object.assign(Readable.from([body]), { headers: (ctx.req as Readable & { headers?: unknown }).headers });
  return createHash('sha256').update(body).digest('base64');
}

/** Hands s3rver the body through a hash; the promise resolves the SHA-256 (base64) once it has all passed. */
function hashAsItStreams(ctx: ConditionalContext): Promise<string> {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const source = ctx.req;
  ctx.req = Object.assign(tap, { headers: (source as Readable & { headers?: unknown }).headers });
  return new Promise((resolve) => {
    pipeline(source, tap, () => undefined);
    tap.once('end', () => resolve(hash.digest('base64')));
    tap.once('close', () => resolve(''));
  });
}

function badDigest(ctx: ConditionalContext, actual: string): void {
  answer(ctx, 400, 'BadDigest', `The SHA256 you specified did not match the calculated checksum (calculated ${actual}).`);
}

/** Waits (a few seconds at most) until s3rver's object file holds the PUT's bytes. */
async function flushed(path: string, length: number): Promise<void> {
  for (let tries = 0; tries < 5000; tries += 1) {
    const size = await stat(path).then((info) => info.size, () => -1);
    if (size === length) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** PutObject (not a part, not a copy) or CompleteMultipartUpload: the requests that make an object visible. */
function isObjectCreation(ctx: ConditionalContext): boolean {
  if (ctx.method === 'PUT') return ctx.query['partNumber'] === undefined && header(ctx, 'x-amz-copy-source') === undefined;
  return ctx.method === 'POST' && typeof ctx.query['uploadId'] === 'string';
}

function missingSignedHeader(ctx: ConditionalContext): string | undefined {
  const signed = ctx.query['X-Amz-SignedHeaders'];
  if (typeof signed !== 'string') return undefined;
  return signed.split(';').find((name) => name !== '' && header(ctx, name) === undefined);
}

function header(ctx: ConditionalContext, name: string): string | undefined {
  const value = ctx.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

function answer(ctx: ConditionalContext, status: number, code: string, message: string, condition?: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  const extra = condition ? `<Condition>${condition}</Condition>` : '';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
}
