import * as z from 'zod/mini';
import { isErrorCode, isRetryableCode } from '../error-codes';
import { StrongboxError } from '../errors';
import type { Authorizer } from './auth';
import { createAuthorizer } from './auth';
import type { HostConfig } from './config';
import { HttpAgents, send, where, type HttpResult } from './http';

/**
 * The archive endpoint's protocol v1 (docs/wal.md) as seen from the database host. The
 * Authorization goes only to the endpoint's own origin: never to a presigned S3 URL.
 */

/** What wal-push declares about one file. */
export interface Declaration {
  size: number;
  sha256: string;
  storedSize: number;
  storedSha256: string;
  compression: 'none' | 'gzip' | 'zstd';
  systemId?: string;
  segmentSize?: number;
  pgVersion?: number;
}

const hex64 = z.string().check(z.regex(/^[0-9a-f]{64}$/));
/** The record fields the host relies on; the rest of the record is the server's business. */
const recordSchema = z.object({
  name: z.optional(z.string()),
  compression: z.enum(['none', 'gzip', 'zstd']),
  size: z.int().check(z.nonnegative()),
  sha256: hex64,
  storedSize: z.int().check(z.nonnegative()),
  storedSha256: hex64,
});
export type RecordFacts = z.infer<typeof recordSchema>;

const headersSchema = z._default(z.record(z.string(), z.string()), {});
const doneSchema = z.object({ status: z.enum(['stored', 'exists']), record: recordSchema });
const prepareSchema = z.union([
  doneSchema,
  z.object({ status: z.literal('upload'), method: z._default(z.string(), 'PUT'), url: z.string(), headers: headersSchema, complete: z.boolean() }),
]);
const foundSchema = z.object({ status: z.literal('found'), record: recordSchema, url: z.string(), headers: headersSchema });
const identitySchema = z.object({ systemId: z.string(), segmentSize: z.int().check(z.positive()) });
const healthSchema = z.object({ mode: z.enum(['bytes', 'presign']), handoff: z.optional(z.boolean()), encodes: z.optional(z.array(z.string())) });

export type PushDone = z.infer<typeof doneSchema>;
export type PushPlan = z.infer<typeof prepareSchema>;
export type FetchPlan = z.infer<typeof foundSchema>;

const JSON_LIMIT = 1 << 20;

/**
 * True when trying again later may succeed (network, timeouts, 5xx, damaged transfers): the
 * code's `retryable` in shared/error-codes.ts; codes the same request will meet again are not.
 */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof StrongboxError) || isRetryableCode(error.code);
}

/** A client of one database's WAL archive on one endpoint. */
export class ArchiveClient {
  private readonly base: URL;
  private readonly authorize: Authorizer;
  private knownHealth: z.infer<typeof healthSchema> | undefined;
  /** This client's keep-alive connections (a push is two or three requests to the same origin). */
  private readonly agents = new HttpAgents();

  constructor(private readonly config: Pick<HostConfig, 'endpoint' | 'database' | 'auth' | 'timeoutMs'>, authorize?: Authorizer) {
    this.base = new URL(config.endpoint.endsWith('/') ? config.endpoint : `${config.endpoint}/`);
    this.authorize = authorize ?? createAuthorizer(config);
  }

  /** POST prepare. Resolves `exists` or an upload plan; throws the endpoint's error (e.g. WAL_CONFLICT). */
  async preparePush(name: string, declaration: Declaration): Promise<PushPlan> {
    const result = await this.call('POST', this.walUrl(name), jsonBody(declaration), JSON_LIMIT);
    return parseJson(result, prepareSchema, 'prepare');
  }

  /**
   * Sends the stored bytes as the plan says (`sent` is called once they are, so that their
   * buffer may serve another push), then `complete` when the plan asks for it. Resolves
   * only on `stored` / `exists`; throws the endpoint's or the storage's error.
   */
  async upload(name: string, plan: Extract<PushPlan, { status: 'upload' }>, stored: Buffer, declaration: Declaration, sent?: () => void): Promise<PushDone> {
    const url = this.resolve(plan.url);
    const result = await this.call(plan.method, url, { headers: plan.headers, body: stored }, JSON_LIMIT);
    sent?.();
    if (!plan.complete) return parseJson(result, doneSchema, 'upload');
    if (result.status < 200 || result.status > 299) throw statusError(result, plan.method, url);
    const completed = await this.call('POST', this.walUrl(`${name}/complete`), jsonBody(declaration), JSON_LIMIT);
    return parseJson(completed, doneSchema, 'complete');
  }

  /**
   * The endpoint's mode, and whether it takes hand-off files (bytes mode, on this host: see
   * putHandoff): `GET /v1/health`, asked once per client. Throws the endpoint's or the network's error.
   */
  async health(): Promise<z.infer<typeof healthSchema>> {
    this.knownHealth ??= parseJson(await this.call('GET', new URL('v1/health', this.base), {}, JSON_LIMIT), healthSchema, 'health');
    return this.knownHealth;
  }

  /**
   * Bytes mode in one request: PUT the stored bytes with their declaration, without a
   * prepare first. The endpoint checks everything a prepare would before it reads the body
   * (an archived file answers `exists` and the body is dropped). Resolves stored/exists;
   * throws the endpoint's error (e.g. WAL_CONFLICT).
   */
  async putBody(name: string, stored: Buffer, declaration: Declaration): Promise<PushDone> {
    const headers = { 'content-type': 'application/octet-stream', 'x-strongbox-declaration': Buffer.from(JSON.stringify(declaration)).toString('base64') };
    return parseJson(await this.call('PUT', this.walUrl(`${name}/body`), { headers, body: stored }, JSON_LIMIT), doneSchema, 'upload');
  }

  /**
   * Hands over the WAL file `name` as `file`, a plain file name in the spool's tmp folder (a
   * hard link to it, same host), for the endpoint to read, hash and store in `compression`
   * itself: no declaration. Throws StrongboxError HANDOFF_REFUSED when it takes no hand-off
   * (push the file here instead), or the endpoint's error.
   */
  async putHandoff(name: string, file: string, compression: Declaration['compression']): Promise<PushDone> {
    const headers = { 'x-strongbox-handoff': file, 'x-strongbox-compression': compression };
    return parseJson(await this.call('PUT', this.walUrl(`${name}/body`), { headers, body: Buffer.alloc(0) }, JSON_LIMIT), doneSchema, 'upload');
  }

  /** GET prepare of a fetch. Throws StrongboxError WAL_NOT_FOUND when the file is not archived. */
  async prepareFetch(name: string): Promise<FetchPlan> {
    const result = await this.call('GET', this.walUrl(name), {}, JSON_LIMIT);
    return parseJson(result, foundSchema, 'fetch');
  }

  /** Downloads the stored bytes of a fetch plan (at most `record.storedSize` of them). */
  async download(plan: FetchPlan, onChunk?: (received: number) => void): Promise<Buffer> {
    const url = this.resolve(plan.url);
    const result = await this.call('GET', url, { headers: plan.headers }, plan.record.storedSize, onChunk);
    if (result.status !== 200) throw statusError(result, 'GET', url);
    return result.body;
  }

  /** The archive identity, or undefined before the first segment was archived. */
  async identity(): Promise<{ systemId: string; segmentSize: number } | undefined> {
    try {
      return parseJson(await this.call('GET', this.walUrl('identity'), {}, JSON_LIMIT), identitySchema, 'identity');
    } catch (error) {
      if (error instanceof StrongboxError && error.code === 'WAL_NOT_FOUND') return undefined;
      throw error;
    }
  }

  private walUrl(rest: string): URL {
    return new URL(`v1/wal/${encodeURIComponent(this.config.database)}/${rest}`, this.base);
  }

  private resolve(url: string): URL {
    try {
      return new URL(url, this.base);
    } catch (error) {
      throw new StrongboxError('ENDPOINT_BAD_RESPONSE', 'the archive endpoint answered an invalid URL', 'check that the endpoint and this wal-push are the same Strongbox version', { cause: error });
    }
  }

  private async call(method: string, url: URL, options: { headers?: Record<string, string>; body?: Buffer }, maxBytes: number, onChunk?: (n: number) => void): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (url.origin === this.base.origin) Object.assign(headers, await this.authorize({ method, url, headers, body: options.body }));
    return send({ method, url, headers, body: options.body, timeoutMs: this.config.timeoutMs, maxBytes, onChunk, agents: this.agents });
  }
}

function jsonBody(value: unknown): { headers: Record<string, string>; body: Buffer } {
  return { headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) };
}

function parseJson<T>(result: HttpResult, schema: z.ZodMiniType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(result.body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const error = (json as { error?: { code?: unknown; message?: unknown; hint?: unknown } } | undefined)?.error;
  if (result.status >= 400 && error && typeof error.code === 'string') {
    // A code this host does not know (a newer endpoint's) is reported as the endpoint's failure, named in the message.
    const code = isErrorCode(error.code) ? error.code : 'ENDPOINT_FAILED';
    const unknown = code === error.code ? '' : `[${error.code.slice(0, 64)}] `;
    throw new StrongboxError(code, `archive endpoint: ${unknown}${String(error.message ?? error.code)}`, String(error.hint ?? 'see the archive endpoint log'));
  }
  if (result.status < 200 || result.status > 299) throw statusError(result, what, undefined);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new StrongboxError('ENDPOINT_BAD_RESPONSE', `the archive endpoint's ${what} answer is not protocol v1: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'check that the endpoint and this host run the same Strongbox version');
  }
  return parsed.data;
}

function statusError(result: HttpResult, what: string, url: URL | undefined): StrongboxError {
  const target = url ? `${what} ${where(url)}` : what;
  const detail = result.body.toString('utf8').replace(/\s+/g, ' ').slice(0, 160);
  return new StrongboxError(
    result.status >= 500 ? 'ENDPOINT_FAILED' : 'HTTP_REFUSED',
    `${target} answered HTTP ${result.status}${detail ? `: ${detail}` : ''}`,
    result.status === 403 ? 'a presigned URL expired or the storage refused it; retry' : 'see the archive endpoint log',
  );
}
