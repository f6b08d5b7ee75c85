import type { Agent as HttpAgent, IncomingHttpHeaders } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { StrongboxError } from '../errors';

/**
 * One HTTP exchange with a whole-body response, over keep-alive agents (a push is two or
 * three requests to the same origin). Every request has an idle timeout: a hung endpoint
 * must not hold PostgreSQL's archiver forever.
 */

/** A request. `body` is sent with its length. */
export interface HttpCall {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer;
  /** The socket may stay idle this long (connect, waiting for headers, between chunks). */
  timeoutMs: number;
  /** Larger responses are cut off with HTTP_RESPONSE_TOO_LARGE. */
  maxBytes: number;
  /** Told about each body chunk as it arrives (tests watch a download start). */
  onChunk?: (received: number) => void;
  /** The caller's keep-alive connections (one set per client: no process-wide state). */
  agents: HttpAgents;
}

/** Keep-alive agents, one per protocol, made on first use (a wal-push answered from a marker sends nothing). */
export class HttpAgents {
  #http: HttpAgent | undefined;
  #https: HttpsAgent | undefined;

  /** The agent for `url`'s protocol. */
  for(url: URL): HttpAgent | HttpsAgent {
    if (url.protocol === 'https:') return (this.#https ??= new (process.getBuiltinModule('node:https').Agent)({ keepAlive: true }));
    return (this.#http ??= new (process.getBuiltinModule('node:http').Agent)({ keepAlive: true }));
  }
}

/** A complete response. */
export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Sends the request and reads the whole response. Throws StrongboxError
 * ENDPOINT_UNREACHABLE (connection refused, reset, DNS), ENDPOINT_TIMEOUT (idle too long)
 * or HTTP_RESPONSE_TOO_LARGE; any status resolves (the caller judges it).
 */
export function send(call: HttpCall): Promise<HttpResult> {
  const secure = call.url.protocol === 'https:';
  // Loaded on first use: a wal-push answered from a marker never sends a request.
  const http = process.getBuiltinModule('node:http');
  const https = secure ? process.getBuiltinModule('node:https') : undefined;
  const agent = call.agents.for(call.url);
  const headers: Record<string, string> = { ...call.headers };
  if (call.body) headers['content-length'] = String(call.body.length);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: StrongboxError) => {
      if (settled) return;
      settled = true;
      request.destroy();
      reject(error);
    };
    const request = (https ? https.request : http.request)(call.url, { method: call.method, headers, agent }, (response) => {
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > call.maxBytes) {
          fail(new StrongboxError('HTTP_RESPONSE_TOO_LARGE', `${call.method} ${where(call.url)} answered more than ${call.maxBytes} bytes`, 'the endpoint or the storage returned something else than expected; check the endpoint URL'));
          return;
        }
        chunks.push(chunk);
        call.onChunk?.(received);
      });
      response.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
      });
      response.on('error', (error) => fail(unreachable(call, error)));
      response.on('aborted', () => fail(unreachable(call, new Error('response aborted'))));
    });
    request.setTimeout(call.timeoutMs, () => {
      fail(new StrongboxError('ENDPOINT_TIMEOUT', `${call.method} ${where(call.url)} was idle for ${call.timeoutMs} ms`, 'the archive endpoint or the storage is slow or hung; check it, or raise timeoutMs in the WAL host config'));
    });
    request.on('error', (error) => fail(unreachable(call, error)));
    request.end(call.body);
  });
}

function unreachable(call: HttpCall, error: Error): StrongboxError {
  const code = (error as NodeJS.ErrnoException).code;
  return new StrongboxError(
    'ENDPOINT_UNREACHABLE',
    `${call.method} ${where(call.url)} failed: ${code ?? error.message}`,
    'is the archive endpoint running (`npm start` in local mode) and its URL in the WAL host config right?',
    { cause: error },
  );
}

/** The URL without its query: presigned URLs carry credentials there and must not be logged. */
export function where(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
