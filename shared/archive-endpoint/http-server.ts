import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { ConfigError } from '../errors';
import type { WalArchiveDeps } from '../usecases/wal-archive';
import { BodyTooLargeError, UploadInterruptedError } from '../usecases/wal-archive/errors';
import { DatabaseNotServedError, ForbiddenDatabaseError } from './errors';
import type { HandoffEncoder } from './handoff';
import { handleArchiveRequest, MAX_JSON_BYTES, parseJson, type ArchiveEndpointOptions, type ArchiveRequest, type ArchiveResponse } from './routes';

/** How to run the local archive endpoint. */
export interface ArchiveEndpointServerOptions {
  /** Loopback only: the token travels in clear HTTP. */
  host: '127.0.0.1';
  /** 0 or absent: a free port. */
  port?: number;
  /** A bearer token that covers every database (tests, tools); at least one of `token` and `databaseTokens`. */
  token?: string;
  /**
   * Each served database and its own bearer token (local mode): only these databases are
   * served (any other is 403 DATABASE_NOT_SERVED), and a database's token covers only its
   * own archive (403 FORBIDDEN for another's).
   */
  databaseTokens?: ReadonlyMap<string, string>;
  deps: WalArchiveDeps;
  /** bytes: the endpoint takes the WAL bytes itself (folder repository); presign: it hands out presigned S3 URLs. */
  mode: 'bytes' | 'presign';
  /** The largest stored WAL object accepted. */
  maxSegmentBytes: number;
  /** Bytes mode: a database's hand-off folder (its WAL host's spool tmp), when the host is this one. */
  handoff?: (database: string) => string | undefined;
  /** Bytes mode with hand-offs: the endpoint's compression of the handed-over WAL files. */
  encoder?: HandoffEncoder;
}

/** A running endpoint. */
export interface ArchiveEndpointServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops accepting, closes idle connections (busy ones after at most a few seconds), and resolves once every request being handled has finished its writes, even one whose client went away. */
  stop(): Promise<void>;
}

/** How long an unread body (an answer known before the bytes) is drained to keep the connection. */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * Starts the archive endpoint of local mode on node:http (protocol v1, docs/wal.md).
 * Every request needs `Authorization: Bearer <token>` (compared in constant time), and a
 * request about a database the token of that database (or the all-databases `token`); each is
 * logged once (method, route, database, WAL name, status, ms), never with the token.
 * Connections are kept alive for the host side's reuse; a body the answer did not need is
 * drained when its announced length is acceptable, and the connection closed otherwise.
 *
 * @throws ConfigError for no token or an empty one, or presign mode without `deps.presigner`.
 */
export async function startArchiveEndpoint(options: ArchiveEndpointServerOptions): Promise<ArchiveEndpointServer> {
  const tokens = [...(options.token !== undefined ? [options.token] : []), ...(options.databaseTokens?.values() ?? [])];
  if (tokens.length === 0 || tokens.some((token) => token.length === 0)) {
    throw new ConfigError('the archive endpoint has no token, or an empty one', 'generate a random token into each token file before starting the endpoint');
  }
  if (options.mode === 'presign' && !options.deps.presigner) {
    throw new ConfigError('presign mode needs a presigner', 'use bytes mode with a folder repository, or give the endpoint an S3Presigner');
  }
  // Bytes mode never hands out presigned URLs, even when the storage could presign.
  const deps: WalArchiveDeps = options.mode === 'bytes' ? { ...options.deps, presigner: undefined } : options.deps;
  const everything = options.token !== undefined ? digest(`Bearer ${options.token}`) : undefined;
  const perDatabase = new Map([...(options.databaseTokens ?? [])].map(([database, token]) => [database, digest(`Bearer ${token}`)]));
  const offered = (request: ArchiveRequest) => digest(request.header('authorization') ?? '');
  const endpoint: ArchiveEndpointOptions = {
    mode: options.mode,
    deps,
    maxSegmentBytes: options.maxSegmentBytes,
    ...(options.handoff && options.mode === 'bytes' ? { handoff: options.handoff, ...(options.encoder ? { encoder: options.encoder } : {}) } : {}),
    authentication: 'token',
    authenticate: (request) => {
      const given = offered(request);
      let known = everything !== undefined && timingSafeEqual(given, everything);
      for (const expected of perDatabase.values()) known = timingSafeEqual(given, expected) || known; // every one compared: no early exit
      return known;
    },
    authorize: (request, database) => {
      const given = offered(request);
      if (everything !== undefined && timingSafeEqual(given, everything)) {
        if (options.databaseTokens && !perDatabase.has(database)) throw new DatabaseNotServedError(database);
        return;
      }
      const expected = perDatabase.get(database);
      if (!expected) throw new DatabaseNotServedError(database);
      if (!timingSafeEqual(given, expected)) throw new ForbiddenDatabaseError(database, 'the token of another database');
    },
  };
  // Requests being handled: a client that went away (its connection closed) leaves its
  // request's writes running, and stop() waits for them, so nothing writes after it.
  const handling = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const handled = serve(endpoint, req, res)
      .catch((error: unknown) => {
        // handleArchiveRequest answers every failure itself: reaching here is a bug in this file.
        deps.log.error('archive request crashed', { reason: error instanceof Error ? error.message : String(error) });
        res.destroy();
      })
      .finally(() => handling.delete(handled));
    handling.add(handled);
  });
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 40_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host}:${port}`;
  endpoint.baseUrl = url;
  deps.log.info('archive endpoint listening', { url, mode: options.mode });
  return {
    url,
    port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 3_000);
      await closed;
      clearTimeout(force);
      await Promise.allSettled([...handling]);
    },
  };
}

/** Hashing both sides makes the comparison constant-time whatever the lengths. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

async function serve(endpoint: ArchiveEndpointOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const request: ArchiveRequest = {
    method: req.method ?? '',
    target: req.url ?? '',
    header: (name) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    json: () => readJson(req),
    bytes: () => req,
  };
  // The client may be gone before the answer is ready: listen now, log once both are done.
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  const { response, match, error } = await handleArchiveRequest(endpoint, request);
  const keepAlive = await settleBody(req, endpoint.maxSegmentBytes);
  send(res, response, keepAlive);
  await closed;
  const status = res.statusCode;
  const attributes = {
    method: request.method.slice(0, 16),
    route: match?.route ?? 'none',
    database: match?.database,
    wal: match?.name,
    status,
    ms: Math.round(performance.now() - started),
    ...(request.header('x-strongbox-handoff') !== undefined ? { handoff: true } : {}),
    ...('json' in response && status >= 400 ? { code: (response.json as { error?: { code?: string } }).error?.code } : {}),
    ...(status >= 500 && error instanceof Error ? { reason: error.message } : {}),
    ...(!res.writableFinished ? { aborted: true } : {}),
  };
  if (status >= 500) endpoint.deps.log.error('archive request', attributes);
  else endpoint.deps.log.info('archive request', attributes);
}

function send(res: ServerResponse, response: ArchiveResponse, keepAlive: boolean): void {
  const connection: Record<string, string> = keepAlive ? {} : { connection: 'close' };
  if ('stream' in response) {
    res.writeHead(response.status, { ...response.headers, 'cache-control': 'no-store', ...connection });
    pipeline(response.stream, res, () => undefined); // a failed read cuts the response short: the client sees a short body and its hash fails
    return;
  }
  const body = Buffer.from(JSON.stringify(response.json));
  res.writeHead(response.status, {
    ...response.headers,
    'content-type': 'application/json',
    'content-length': String(body.length),
    'cache-control': 'no-store',
    ...connection,
  });
  res.end(body);
}

/**
 * Reads a JSON body of at most MAX_JSON_BYTES. An announced length over it is refused
 * unread; a longer stream is refused as soon as it passes the limit.
 */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > MAX_JSON_BYTES) throw new BodyTooLargeError(`a JSON body of ${announced} bytes`, MAX_JSON_BYTES);
  return new Promise<unknown>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (outcome: () => unknown): void => {
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      try {
        resolve(outcome());
      } catch (error) {
        reject(error);
      }
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total <= MAX_JSON_BYTES) return void chunks.push(chunk);
      req.pause(); // stop reading; the answer then closes the connection (settleBody)
      finish(() => {
        throw new BodyTooLargeError('the JSON body', MAX_JSON_BYTES);
      });
    };
    const onEnd = (): void => finish(() => parseJson(Buffer.concat(chunks)));
    const onGone = (): void =>
      finish(() => {
        throw new UploadInterruptedError('the JSON body');
      });
    req.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onGone);
  });
}

/**
 * Makes the connection reusable after an answer that did not read the whole body: the
 * rest is read and dropped when its announced length is acceptable; otherwise (unknown
 * or too large, or the client is gone) the answer closes the connection. True to keep it alive.
 */
async function settleBody(req: IncomingMessage, maxBytes: number): Promise<boolean> {
  if (req.complete) return true;
  const announced = Number(req.headers['content-length']);
  if (req.destroyed || !Number.isFinite(announced) || announced > maxBytes) return false;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS);
    const done = (ok: boolean) => () => {
      clearTimeout(timer);
      resolve(ok);
    };
    req.once('end', done(true));
    req.once('error', done(false));
    req.once('close', () => done(req.complete)());
    req.resume();
  });
}
