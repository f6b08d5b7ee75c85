import type { Readable } from 'node:stream';
import type { WalFileRef } from '../domain/wal/file-ref';
import type { WalCompression } from '../domain/wal/keys';
import { InputError, StrongboxError } from '../errors';
import { STRONGBOX_VERSION } from '../runtime/version';
import {
  archiveIdentity,
  BodyTooLargeError,
  completeWalPush,
  declareWalFile,
  prepareWalFetch,
  prepareWalPush,
  readWalBody,
  storeWalBody,
  type WalArchiveDeps,
} from '../usecases/wal-archive';
import { errorResponse, MethodNotAllowedError, RouteNotFoundError, UnauthenticatedError } from './errors';
import { HandoffRefusedError, storeHandoff, type HandoffEncoder } from './handoff';
import { matchRoute, type RouteMatch, type RouteName } from './paths';

/** JSON bodies (declarations) are a few hundred bytes; anything past this is refused unread. */
export const MAX_JSON_BYTES = 16 * 1024;

/** One request, whatever carried it (node:http, a Lambda Function URL event). */
export interface ArchiveRequest {
  method: string;
  /** The path as received, not decoded, with `?query` when there is one. */
  target: string;
  /** A request header (case-insensitive name), or undefined. */
  header(name: string): string | undefined;
  /** The JSON body. Throws BodyTooLargeError over MAX_JSON_BYTES, InputError when it is not JSON. */
  json(): Promise<unknown>;
  /** The raw body, for bytes mode's PUT. */
  bytes(): Readable;
}

/** The answer: JSON, or (bytes mode's GET of a body) a stream of bytes. */
export type ArchiveResponse =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; stream: Readable; headers: Record<string, string> };

/** How an endpoint runs. */
export interface ArchiveEndpointOptions {
  mode: 'bytes' | 'presign';
  /** Presign mode needs `deps.presigner`; bytes mode never uses one. */
  deps: WalArchiveDeps;
  /** The largest stored object accepted (bytes mode: the largest body). */
  maxSegmentBytes: number;
  /** The endpoint's own origin (`http://127.0.0.1:7450`), for the URLs bytes mode hands out. */
  baseUrl?: string;
  /** True when the request carries valid credentials; checked before anything else. */
  authenticate(request: ArchiveRequest): boolean;
  /**
   * Whether the (authenticated) request may use `database`'s archive: throws
   * DatabaseNotServedError for a database the endpoint does not serve, ForbiddenDatabaseError
   * for one its credential does not cover. Checked for every route that names a database,
   * before storage is touched. Absent: every database.
   */
  authorize?(request: ArchiveRequest, database: string): void;
  /** How authentication works, for the 401's hint. */
  authentication: 'token' | 'iam';
  /**
   * Bytes mode on one host: the folder a database's WAL host may leave hand-off files in
   * (its spool's tmp), undefined for a database that has none (handoff.ts).
   */
  handoff?: (database: string) => string | undefined;
  /** The endpoint's compression of handed-over files; without one, hand-offs are refused. */
  encoder?: HandoffEncoder;
}

const METHODS: Record<RouteName, readonly string[]> = { health: ['GET'], identity: ['GET'], wal: ['GET', 'POST'], body: ['GET', 'PUT'], complete: ['POST'] };

/**
 * Answers one request of protocol v1: authentication, then the route (path tricks and bad
 * names refused before storage is touched), the database's authorisation, then the use case. Never throws: every
 * failure is an error document with its status. `match` says what the request was about
 * and `error` what went wrong, for the transport's log line.
 */
export async function handleArchiveRequest(
  options: ArchiveEndpointOptions,
  request: ArchiveRequest,
): Promise<{ response: ArchiveResponse; match?: RouteMatch; error?: unknown }> {
  let match: RouteMatch | undefined;
  try {
    if (!options.authenticate(request)) throw new UnauthenticatedError(options.authentication);
    match = matchRoute(request.target);
    if (!METHODS[match.route].includes(request.method)) throw new MethodNotAllowedError(request.method, METHODS[match.route]);
    if (match.database !== undefined) options.authorize?.(request, match.database);
    return { response: await dispatch(options, request, match), match };
  } catch (error) {
    const { status, body } = errorResponse(error);
    const headers: Record<string, string> = error instanceof MethodNotAllowedError ? { allow: error.allow.join(', ') } : {};
    return { response: { status, json: body, headers }, ...(match ? { match } : {}), error };
  }
}

async function dispatch(options: ArchiveEndpointOptions, request: ArchiveRequest, match: RouteMatch): Promise<ArchiveResponse> {
  const { deps, mode } = options;
  const database = match.database!;
  // Every route that names a WAL file carries it checked (paths.ts): parsed once, passed on.
  const file = match.file!;
  switch (match.route) {
    case 'health':
      return { status: 200, json: { ok: true, mode, version: STRONGBOX_VERSION, ...handoffHealth(options) } };
    case 'identity':
      return { status: 200, json: await archiveIdentity(deps, database) };
    case 'wal':
      return request.method === 'POST' ? preparePush(options, file, await request.json()) : prepareFetch(options, file);
    case 'complete':
      if (mode !== 'presign') throw new RouteNotFoundError('…/complete exists only in presign mode', 'this endpoint takes the bytes itself: PUT them to the url the POST answered, no complete step');
      return pushed(await completeWalPush(deps, declareWalFile(file, await request.json())));
    case 'body':
      if (mode !== 'bytes') throw new RouteNotFoundError('…/body exists only in bytes mode', 'this endpoint hands out presigned URLs: use the url (and headers) the POST or GET answered, then POST …/complete after an upload');
      return request.method === 'PUT' ? putBody(options, request, file) : getBody(deps, file);
  }
}

/** Health's word on hand-offs: whether this endpoint takes them, and in which compressions it stores them. */
function handoffHealth(options: ArchiveEndpointOptions): { handoff: boolean; encodes?: readonly WalCompression[] } {
  const takes = options.mode === 'bytes' && options.handoff !== undefined && options.encoder !== undefined;
  return takes ? { handoff: true, encodes: options.encoder!.compressions } : { handoff: false };
}

async function preparePush(options: ArchiveEndpointOptions, file: WalFileRef, body: unknown): Promise<ArchiveResponse> {
  const declared = declareWalFile(file, body);
  const { database, name } = file;
  // Refused before anything is planned or presigned: the upload could never be accepted.
  if (declared.declaration.storedSize > options.maxSegmentBytes) throw new BodyTooLargeError(`the declared size of ${name} (${declared.declaration.storedSize} bytes)`, options.maxSegmentBytes);
  const plan = await prepareWalPush(options.deps, declared);
  if (plan.status === 'exists') return { status: 200, json: plan };
  if (options.mode === 'presign') {
    if (!plan.upload) throw new StrongboxError('UNEXPECTED', 'presign mode without a presigner');
    return { status: 200, json: { status: 'upload', method: 'PUT', url: plan.upload.url, headers: plan.upload.headers, complete: true, expiresAt: plan.upload.expiresAt } };
  }
  const headers = { 'content-type': 'application/octet-stream', 'x-strongbox-declaration': Buffer.from(JSON.stringify(plan.declaration)).toString('base64') };
  return { status: 200, json: { status: 'upload', method: 'PUT', url: bodyUrl(options, database, name), headers, complete: false } };
}

async function prepareFetch(options: ArchiveEndpointOptions, file: WalFileRef): Promise<ArchiveResponse> {
  const { database, name } = file;
  const plan = await prepareWalFetch(options.deps, file);
  if (options.mode === 'presign') {
    if (!plan.download) throw new StrongboxError('UNEXPECTED', 'presign mode without a presigner');
    return { status: 200, json: { status: 'found', record: plan.record, url: plan.download.url, headers: plan.download.headers } };
  }
  return { status: 200, json: { status: 'found', record: plan.record, url: bodyUrl(options, database, name), headers: {} } };
}

async function putBody(options: ArchiveEndpointOptions, request: ArchiveRequest, file: WalFileRef): Promise<ArchiveResponse> {
  const length = request.header('content-length');
  const handoff = request.header('x-strongbox-handoff');
  if (handoff !== undefined) {
    if (length !== undefined && Number(length) > 0) throw new InputError('a hand-off PUT carries no body', 'send either X-Strongbox-Handoff or the bytes, not both');
    return pushed(await storeHandoff(options.deps, file, { ...handoffOf(options, request, file.database), name: handoff, maxBytes: options.maxSegmentBytes }));
  }
  const declared = declareWalFile(file, declarationHeader(request));
  const limit = Math.min(options.maxSegmentBytes, declared.declaration.storedSize);
  if (length !== undefined && Number(length) > limit) throw new BodyTooLargeError(`a body of ${length} bytes for ${file.name}`, limit);
  return pushed(await storeWalBody(options.deps, declared, request.bytes(), options.maxSegmentBytes));
}

/**
 * Where a hand-off of `database` is read from, and how it is to be stored: the WAL file itself
 * (no declaration: the endpoint makes it) in a compression its encoder writes. Throws
 * HandoffRefusedError (the sender then sends the body).
 */
function handoffOf(options: ArchiveEndpointOptions, request: ArchiveRequest, database: string): { dir: string; compression: WalCompression; encoder: HandoffEncoder } {
  const dir = options.handoff?.(database);
  const encoder = options.encoder;
  if (dir === undefined || !encoder) throw new HandoffRefusedError(`this endpoint takes no hand-off files for database "${database}"`);
  if (request.header('x-strongbox-declaration') !== undefined) throw new HandoffRefusedError('a hand-off file is the WAL file itself, which the endpoint declares: send no declaration');
  const compression = request.header('x-strongbox-compression') as WalCompression | undefined;
  if (compression === undefined || !encoder.compressions.includes(compression)) throw new HandoffRefusedError(`this endpoint does not write ${compression ?? 'an unnamed compression'} (it writes ${encoder.compressions.join(', ')})`);
  return { dir, compression, encoder };
}

async function getBody(deps: WalArchiveDeps, file: WalFileRef): Promise<ArchiveResponse> {
  const { record, body } = await readWalBody(deps, file);
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(record.storedSize), 'x-strongbox-stored-sha256': record.storedSha256 };
  return { status: 200, stream: body, headers };
}

function pushed(outcome: { status: 'stored' | 'exists' }): ArchiveResponse {
  return { status: outcome.status === 'stored' ? 201 : 200, json: outcome };
}

function declarationHeader(request: ArchiveRequest): unknown {
  const header = request.header('x-strongbox-declaration');
  if (header === undefined) throw new InputError('the X-Strongbox-Declaration header is missing', 'send the declaration JSON, base64-encoded, in X-Strongbox-Declaration (the POST answered the headers to send)');
  return parseJson(Buffer.from(header, 'base64'), 'the X-Strongbox-Declaration header');
}

function bodyUrl(options: ArchiveEndpointOptions, database: string, name: string): string {
  if (options.baseUrl === undefined) throw new StrongboxError('UNEXPECTED', 'bytes mode without a base URL');
  return `${options.baseUrl}/v1/wal/${database}/${name}/body`;
}

/** Parses JSON of a body or header. Throws InputError (INPUT_INVALID). */
export function parseJson(bytes: Buffer, what = 'the request body'): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InputError(`${what} is not JSON`, 'send the declaration as a JSON object (docs/wal.md)', { cause: error });
  }
}
