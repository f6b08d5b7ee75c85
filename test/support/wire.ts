/**
 * A recording HTTP relay on 127.0.0.1 in front of a real server (the archive endpoint, or
 * s3rver as S3's origin): requests are forwarded as they came (Host header included, so a
 * presigned URL's signature still holds), noted, and faults are injected on the way. JSON
 * answers that name the server's own origin (bytes mode's download URLs) are rewritten to
 * name the relay, as a reverse proxy does, so that downloads pass through it too.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the wire saw it. */
export interface SeenRequest {
  server: 'endpoint' | 'storage';
  method: string;
  path: string;
  authorization?: string;
  /** The hand-off file a PUT named instead of a body (X-Strongbox-Handoff). */
  handoff?: string;
}

/** Faults the tests switch on (endpoint requests fail; downloads, from either server, are damaged or slow). */
export interface WireFaults {
  /** Every endpoint request is answered with this status and STORAGE_FAILED, not forwarded. */
  failStatus?: number;
  /** Downloads have one byte flipped. */
  corruptDownload?: boolean;
  /** Downloads are sent in chunks of this many bytes, `delayMs` apart. */
  slowDownload?: { chunk: number; delayMs: number };
}

export interface Wire {
  url: string;
  nextDownload(): Promise<void>;
  stop(): Promise<void>;
}

const waiters = new Map<WireFaults, Array<() => void>>();

/** Starts a wire to `target` (`http://127.0.0.1:<port>`), sharing `requests` and `faults` with other wires of one test. */
export async function startWire(target: string, side: SeenRequest['server'], shared: { requests: SeenRequest[]; faults: WireFaults }): Promise<Wire> {
  const agent = new Agent({ keepAlive: true });
  const to = new URL(target);
  let own = '';
  const downloadStarted = () => {
    const list = waiters.get(shared.faults) ?? [];
    waiters.delete(shared.faults);
    list.forEach((resolve) => resolve());
  };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    shared.requests.push({ server: side, method: req.method ?? '', path: new URL(path, 'http://x').pathname, authorization: req.headers.authorization, ...(typeof req.headers['x-strongbox-handoff'] === 'string' ? { handoff: req.headers['x-strongbox-handoff'] } : {}) });
    const status = shared.faults.failStatus;
    if (side === 'endpoint' && status) {
      req.resume();
      req.once('end', () => json(res, status, JSON.stringify({ error: { code: 'STORAGE_FAILED', message: 'injected by the test wire', hint: 'the test switches it off' } })));
      return;
    }
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path, headers: req.headers, agent }, (answer) => {
      void relay(answer, res, req.method === 'GET').catch(() => res.destroy());
    });
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });

  async function relay(answer: IncomingMessage, res: ServerResponse, get: boolean): Promise<void> {
    const type = String(answer.headers['content-type'] ?? '');
    const download = get && answer.statusCode === 200 && !type.includes('json') && !type.includes('xml');
    if (!download && !type.includes('json')) {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of answer as AsyncIterable<Buffer>) chunks.push(chunk);
    let body = Buffer.concat(chunks);
    if (!download) {
      body = Buffer.from(body.toString('utf8').replaceAll(target, own));
      return json(res, answer.statusCode ?? 502, body);
    }
    if (shared.faults.corruptDownload && body.length > 0) {
      body = Buffer.from(body);
      body[body.length >> 1] = body[body.length >> 1]! ^ 0xff;
    }
    res.writeHead(200, { ...answer.headers, 'content-length': body.length });
    const slow = shared.faults.slowDownload;
    if (!slow) {
      downloadStarted();
      return void res.end(body);
    }
    for (let offset = 0; offset < body.length && !res.destroyed; offset += slow.chunk) {
      res.write(body.subarray(offset, offset + slow.chunk));
      if (offset === 0) downloadStarted();
      await new Promise((resolve) => setTimeout(resolve, slow.delayMs));
    }
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  own = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: own,
    nextDownload: () => new Promise<void>((resolve) => waiters.set(shared.faults, [...(waiters.get(shared.faults) ?? []), resolve])),
    async stop() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: string | Buffer): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}
