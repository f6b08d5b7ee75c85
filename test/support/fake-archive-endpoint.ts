/**
 * A small archive endpoint on 127.0.0.1 that follows docs/wal.md (protocol v1), for the
 * host-side tests until they run against the real one. Files live in memory. `presign`
 * mode hands out URLs of a second server (another origin, standing in for S3) and records
 * whether an Authorization header ever reached it. Faults are switched on by the tests.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { isWalFileName, parseWalName } from '../../shared/domain/wal/names';
import { runWithInput } from './pg';

export type FakeCompression = 'none' | 'gzip' | 'zstd';

/** What the fake keeps per archived file (a subset of shared/domain/wal/record.ts's record, same names). */
export interface FakeRecord {
  format: 'strongbox-wal/1';
  database: string;
  name: string;
  kind: string;
  timeline: number;
  segno?: string;
  objectKey: string;
  compression: FakeCompression;
  size: number;
  sha256: string;
  storedSize: number;
  storedSha256: string;
  systemId?: string;
  archivedAt: string;
}

/** One request as the fake saw it. */
export interface SeenRequest {
  server: 'endpoint' | 'storage';
  method: string;
  path: string;
  authorization?: string;
}

/** Switches the tests flip. */
export interface FakeFaults {
  /** Every endpoint request answers this status with STORAGE_FAILED. */
  failStatus?: number;
  /** Downloads have one byte flipped. */
  corruptDownload?: boolean;
  /** Downloads are sent in chunks of this many bytes, `delayMs` apart. */
  slowDownload?: { chunk: number; delayMs: number };
}

export interface FakeArchiveEndpoint {
  url: string;
  token: string;
  database: string;
  files: Map<string, { record: FakeRecord; stored: Buffer }>;
  identity?: { systemId: string; segmentSize: number; pgVersion?: number };
  requests: SeenRequest[];
  faults: FakeFaults;
  /** Resolves when the next download starts sending bytes. */
  nextDownload(): Promise<void>;
  /** Archives `raw` directly (for fetch tests). */
  seed(name: string, raw: Buffer, compression?: FakeCompression, systemId?: string): Promise<void>;
  /** The decompressed bytes of an archived file. */
  raw(name: string): Promise<Buffer>;
  stop(): Promise<void>;
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
type Declaration = { size: number; sha256: string; storedSize: number; storedSha256: string; compression: FakeCompression; systemId?: string; segmentSize?: number; pgVersion?: number };

/** Starts the fake (and its storage stand-in in presign mode). */
export async function startFakeArchiveEndpoint(options: { database?: string; token?: string; mode?: 'bytes' | 'presign' } = {}): Promise<FakeArchiveEndpoint> {
  const database = options.database ?? 'app';
  const token = options.token ?? 'test-token-1234';
  const mode = options.mode ?? 'bytes';
  const storage = new Map<string, Buffer>();
  let downloadWaiters: Array<() => void> = [];

  const fake: FakeArchiveEndpoint = {
    url: '',
    token,
    database,
    files: new Map(),
    requests: [],
    faults: {},
    nextDownload: () => new Promise((resolve) => downloadWaiters.push(resolve)),
    seed: async (name, raw, compression = 'gzip', systemId) => {
      const stored = compression === 'gzip' ? gzipSync(raw) : compression === 'zstd' ? await runWithInput('zstd', ['-1', '-q', '-c'], raw) : raw;
      fake.files.set(name, { stored, record: recordOf(database, name, { size: raw.length, sha256: sha(raw), storedSize: stored.length, storedSha256: sha(stored), compression, systemId }) });
    },
    raw: async (name) => {
      const file = fake.files.get(name);
      if (!file) throw new Error(`${name} is not archived`);
      const { compression } = file.record;
      return compression === 'gzip' ? gunzipSync(file.stored) : compression === 'zstd' ? runWithInput('zstd', ['-d', '-q', '-c'], file.stored) : file.stored;
    },
    stop: async () => {
      await Promise.all([close(endpoint), storageServer ? close(storageServer) : undefined]);
    },
  };

  const storageServer = mode === 'presign' ? createServer((req, res) => void storageRoute(req, res)) : undefined;
  let storageBase = '';
  async function storageRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    fake.requests.push({ server: 'storage', method: req.method ?? '', path, authorization: req.headers.authorization });
    const key = decodeURIComponent(path.slice(1));
    if (req.method === 'PUT') {
      storage.set(key, await readBody(req, 1 << 30));
      return void res.writeHead(200).end();
    }
    const bytes = storage.get(key);
    if (req.method === 'GET' && bytes) return sendBytes(res, bytes);
    res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
  }

  const endpoint = createServer((req, res) => {
    route(req, res).catch((error: unknown) => reply(res, 500, { error: { code: 'INTERNAL', message: String(error), hint: 'fake endpoint bug' } }));
  });
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? '';
    fake.requests.push({ server: 'endpoint', method, path: url.pathname, authorization: req.headers.authorization });
    if (fake.faults.failStatus) return fail(res, fake.faults.failStatus, 'STORAGE_FAILED', 'injected fault');
    if (req.headers.authorization !== `Bearer ${token}`) return fail(res, 401, 'UNAUTHENTICATED', 'no or wrong bearer token');
    if (method === 'GET' && url.pathname === '/v1/health') return reply(res, 200, { ok: true, mode, version: 'fake' });
    const match = /^\/v1\/wal\/([^/]+)\/([^/]+)(?:\/(body|complete))?$/.exec(url.pathname);
    if (!match || decodeURIComponent(match[1]!) !== database) return fail(res, 404, 'NOT_FOUND', 'no such route');
    const name = decodeURIComponent(match[2]!);
    const action = match[3];
    if (name === 'identity' && !action && method === 'GET') return fake.identity ? reply(res, 200, { format: 'strongbox-archive/1', database, ...fake.identity, createdAt: new Date().toISOString() }) : fail(res, 404, 'WAL_NOT_FOUND', 'no identity yet');
    if (!isWalFileName(name)) return fail(res, 400, 'BAD_WAL_NAME', `${name} is not a WAL file name`);
    const existing = fake.files.get(name);
    if (!action && method === 'GET') {
      if (!existing) return fail(res, 404, 'WAL_NOT_FOUND', `${name} is not archived`);
      const target = mode === 'bytes' ? `${fake.url}/v1/wal/${database}/${name}/body` : `${storageBase}/${encodeURIComponent(existing.record.objectKey)}?X-Amz-Signature=fake`;
      return reply(res, 200, { status: 'found', record: existing.record, url: target, headers: {} });
    }
    if (action === 'body' && method === 'GET') {
      if (!existing) return fail(res, 404, 'WAL_NOT_FOUND', `${name} is not archived`);
      return sendBytes(res, existing.stored);
    }
    if (!action && method === 'POST') {
      const declaration = JSON.parse((await readBody(req, 16384)).toString()) as Declaration;
      const kind = parseWalName(name, 1 << 20).kind;
      if (kind === 'segment' || kind === 'partial') {
        if (!declaration.systemId || !declaration.segmentSize) return fail(res, 400, 'INPUT_INVALID', 'segments need systemId and segmentSize');
        fake.identity ??= { systemId: declaration.systemId, segmentSize: declaration.segmentSize, pgVersion: declaration.pgVersion };
        if (fake.identity.systemId !== declaration.systemId) return fail(res, 409, 'SYSTEM_ID_MISMATCH', 'another cluster');
      }
      if (existing) return existing.record.sha256 === declaration.sha256 ? reply(res, 200, { status: 'exists', record: existing.record }) : fail(res, 409, 'WAL_CONFLICT', `${name} was archived with other bytes`);
      if (mode === 'bytes') {
        const headers = { 'x-strongbox-declaration': Buffer.from(JSON.stringify(declaration)).toString('base64'), 'content-type': 'application/octet-stream' };
        return reply(res, 200, { status: 'upload', method: 'PUT', url: `${fake.url}/v1/wal/${database}/${name}/body`, headers, complete: false });
      }
      const key = objectKey(database, name, declaration.compression);
      return reply(res, 200, { status: 'upload', method: 'PUT', url: `${storageBase}/${encodeURIComponent(key)}?X-Amz-Signature=fake`, headers: {}, complete: true });
    }
    if (action === 'body' && method === 'PUT' && mode === 'bytes') {
      const declaration = JSON.parse(Buffer.from(String(req.headers['x-strongbox-declaration'] ?? ''), 'base64').toString()) as Declaration;
      const bytes = await readBody(req, declaration.storedSize);
      if (bytes.length > declaration.storedSize) return fail(res, 413, 'BODY_TOO_LARGE', 'more bytes than declared');
      return store(res, name, declaration, bytes);
    }
    if (action === 'complete' && method === 'POST' && mode === 'presign') {
      const declaration = JSON.parse((await readBody(req, 16384)).toString()) as Declaration;
      return store(res, name, declaration, storage.get(objectKey(database, name, declaration.compression)) ?? Buffer.alloc(0));
    }
    fail(res, 405, 'METHOD_NOT_ALLOWED', `${method} ${url.pathname}`);
  }

  function store(res: ServerResponse, name: string, declaration: Declaration, bytes: Buffer): void {
    if (bytes.length !== declaration.storedSize || sha(bytes) !== declaration.storedSha256) return fail(res, 422, 'CHECKSUM_MISMATCH', 'stored bytes do not match the declaration');
    const existing = fake.files.get(name);
    if (existing) return existing.record.sha256 === declaration.sha256 ? reply(res, 200, { status: 'exists', record: existing.record }) : fail(res, 409, 'WAL_CONFLICT', 'other bytes');
    const record = recordOf(database, name, declaration);
    fake.files.set(name, { record, stored: bytes });
    reply(res, 201, { status: 'stored', record });
  }

  async function sendBytes(res: ServerResponse, bytes: Buffer): Promise<void> {
    const body = fake.faults.corruptDownload ? Buffer.from(bytes) : bytes;
    if (fake.faults.corruptDownload && body.length > 0) body.writeUInt8(body.readUInt8(body.length >> 1) ^ 0xff, body.length >> 1);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    const waiters = downloadWaiters;
    downloadWaiters = [];
    const slow = fake.faults.slowDownload;
    if (!slow) {
      waiters.forEach((resolve) => resolve());
      return void res.end(body);
    }
    for (let offset = 0; offset < body.length && !res.destroyed; offset += slow.chunk) {
      res.write(body.subarray(offset, offset + slow.chunk));
      if (offset === 0) waiters.forEach((resolve) => resolve());
      await new Promise((resolve) => setTimeout(resolve, slow.delayMs));
    }
    res.end();
  }

  await listen(endpoint);
  fake.url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
  if (storageServer) {
    await listen(storageServer);
    storageBase = `http://127.0.0.1:${(storageServer.address() as AddressInfo).port}`;
  }
  return fake;
}

/** The documented layout (docs/wal.md), for any segment size (keys.ts assumes 16 MiB names). */
function objectKey(database: string, name: string, compression: FakeCompression): string {
  const folder = name.endsWith('.history') ? 'history' : name.slice(0, 16);
  return `wal/${database}/${folder}/${name}${{ none: '', gzip: '.gz', zstd: '.zst' }[compression]}`;
}

function recordOf(database: string, name: string, d: Omit<Declaration, 'segmentSize' | 'pgVersion'>): FakeRecord {
  const parsed = parseWalName(name, 1 << 20);
  return {
    format: 'strongbox-wal/1',
    database,
    name,
    kind: parsed.kind,
    timeline: parsed.timeline,
    ...(parsed.segno !== undefined ? { segno: parsed.segno.toString() } : {}),
    objectKey: objectKey(database, name, d.compression),
    compression: d.compression,
    size: d.size,
    sha256: d.sha256,
    storedSize: d.storedSize,
    storedSha256: d.storedSha256,
    ...(d.systemId ? { systemId: d.systemId } : {}),
    archivedAt: new Date().toISOString(),
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  reply(res, status, { error: { code, message, hint: 'fake endpoint' } });
}

/** Reads a body, keeping at most `limit + 1` bytes (enough to tell "too large"). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (size <= limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, limit + 1);
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
