import type { S3Client } from '@aws-sdk/client-s3';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeS3Client } from '../../shared/adapters/storage/s3-client';
import { conditionalWrites, type ConditionalContext, type ConditionalStats } from './s3-conditional';

/** A running s3rver on 127.0.0.1 with one bucket, and an SDK client pointed at it. */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** Built with makeS3Client (path style, s3rver's fixed keys). */
  client: S3Client;
  /** The folder s3rver keeps its buckets in. */
  directory: string;
  /** What the conditional-write rule (s3-conditional.ts) let through and refused so far. */
  conditional: ConditionalStats;
  /** Stops the server, destroys the client and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** s3rver accepts only these keys. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

type KoaContext = ConditionalContext;
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rver {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  middleware: Middleware[];
  httpServer?: Server;
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string; existsObject(bucket: string, key: string): Promise<boolean>; getMetadata(bucket: string, key: string): Promise<{ etag?: string }>; deleteObject(bucket: string, key: string): Promise<unknown> };
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rver;

/**
 * Starts s3rver 3.7.1 on 127.0.0.1 on a free port (the OS picks it), storing into a fresh
 * temporary folder, with `bucket` created.
 *
 * s3rver 3.7.1 lacks AbortMultipartUpload and ListMultipartUploads (both answer
 * NotImplemented / MethodNotAllowed); this adds both, on its own upload folders, so that
 * tests can prove a failed upload leaves no parts behind. It also enforces S3's
 * conditional writes (`If-None-Match: *` → 412) and the presence of a presigned request's
 * signed headers, which s3rver ignores (s3-conditional.ts).
 *
 * @throws Error when DES is unavailable: s3rver encrypts ListObjectsV2 continuation tokens
 *   with it, which OpenSSL 3 only offers with `--openssl-legacy-provider` (vitest.config.ts
 *   sets NODE_OPTIONS for its forked workers; a worker thread pool would not inherit it).
 */
export async function startS3Server(bucket = 'strongbox-test'): Promise<S3TestServer> {
  assertDesAvailable();
  const S3rverClass = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), 'strongbox-s3rver-'));
  const server = new S3rverClass({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  server.middleware.unshift(multipartExtras(server));
  // First of all: S3's If-None-Match and signed-header rules, which s3rver lacks (s3-conditional.ts).
  const conditional: ConditionalStats = { created: 0, refused: 0 };
  server.middleware.unshift(conditionalWrites(server.store, conditional));
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = makeS3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
  let stopped = false;
  return {
    endpoint,
    bucket,
    client,
    directory,
    conditional,
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      const closing = server.close();
      // The SDK keeps sockets alive; close() alone would wait for them to time out.
      server.httpServer?.closeAllConnections();
      await closing;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function assertDesAvailable(): void {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
  } catch (error) {
    throw new Error('s3rver needs DES for ListObjectsV2 pagination: run node with --openssl-legacy-provider (NODE_OPTIONS) in a forked process', {
      cause: error,
    });
  }
}

/** Koa middleware answering AbortMultipartUpload and ListMultipartUploads from s3rver's upload folders. */
function multipartExtras(server: S3rver): Middleware {
  return async (ctx, next) => {
    const [bucket = '', ...keyParts] = ctx.path.split('/').slice(1);
    const key = keyParts.join('/');
    const uploadsDir = (): string => server.store.getResourcePath(bucket, undefined, 'uploads');
    const uploadId = ctx.query['uploadId'];
    if (ctx.method === 'DELETE' && key !== '' && typeof uploadId === 'string') {
      if (!/^[0-9a-f]+$/.test(uploadId)) return xml(ctx, 400, errorXml('InvalidArgument', 'bad upload id'));
      const dir = join(uploadsDir(), uploadId);
      const exists = await readdir(dir).then(() => true, () => false);
      if (!exists) return xml(ctx, 404, errorXml('NoSuchUpload', 'The specified upload does not exist.'));
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' && key === '' && 'uploads' in ctx.query) {
      // As S3: only keys under `prefix`, ordered by key then upload id, `max-uploads` a page,
      // continued after `key-marker` / `upload-id-marker`; Initiated from the upload folder's time.
      const text = (name: string): string => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : '');
      const [prefix, keyMarker, idMarker] = [text('prefix'), text('key-marker'), text('upload-id-marker')];
      const max = Math.max(1, Math.min(1000, Number(text('max-uploads') || '1000')));
      const ids = await readdir(uploadsDir()).catch(() => [] as string[]);
      const uploads = await Promise.all(
        ids.map(async (id) => ({
          id,
          key: await readFile(join(uploadsDir(), id, 'key'), 'utf8').catch(() => ''),
          initiated: await stat(join(uploadsDir(), id)).then((info) => info.birthtime.getTime() > 0 ? info.birthtime : info.mtime, () => new Date(0)),
        })),
      );
      const after = (u: { key: string; id: string }): boolean => keyMarker === '' || u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.id > idMarker);
      const matching = uploads
        .filter((u) => u.key.startsWith(prefix) && after(u))
        .sort((a, b) => (a.key === b.key ? (a.id < b.id ? -1 : 1) : a.key < b.key ? -1 : 1));
      const page = matching.slice(0, max);
      const truncated = matching.length > max;
      const last = page[page.length - 1];
      const markers = truncated && last ? `<NextKeyMarker>${escapeXml(last.key)}</NextKeyMarker><NextUploadIdMarker>${last.id}</NextUploadIdMarker>` : '';
      const entries = page.map((u) => `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`).join('');
      return xml(ctx, 200, `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${escapeXml(bucket)}</Bucket><Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>${markers}${entries}</ListMultipartUploadsResult>`);
    }
    await next();
  };
}

function xml(ctx: KoaContext, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
}

function errorXml(code: string, message: string): string {
  return `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
