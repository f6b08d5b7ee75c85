import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for the AWS services that have no local emulator (SNS, ECS, Step
 * Functions, Secrets Manager, SSM, Lambda's Invoke): it speaks their wire protocols (SNS's query protocol,
 * the JSON protocols' X-Amz-Target) well enough for the real SDK clients, records every
 * request (so tests assert the exact command sent), and answers each operation with what
 * a test configured. An operation nobody configured answers 400, naming it. Lambda's
 * Invoke (a REST path, not a target) is recognised by its path.
 */

export interface StubRequest {
  /** e.g. "Publish", "RunTask", "StartExecution", "GetSecretValue". */
  operation: string;
  /** JSON protocols: the parsed body; SNS: the form fields. */
  body: Record<string, unknown>;
}

export type StubAnswer = (request: StubRequest) => { status?: number; body: Record<string, unknown> | string };

export interface ServiceStub {
  endpoint: string;
  requests: StubRequest[];
  answer(operation: string, answer: StubAnswer): void;
  stop(): Promise<void>;
}

function read(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

const xmlEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Starts the stub on 127.0.0.1 with SNS Publish answered (a message id) by default. */
export async function startServiceStub(): Promise<ServiceStub> {
  const answers = new Map<string, StubAnswer>();
  const requests: StubRequest[] = [];
  let published = 0;
  answers.set('Publish', () => ({ body: `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>msg-${(published += 1)}</MessageId></PublishResult><ResponseMetadata><RequestId>req</RequestId></ResponseMetadata></PublishResponse>` }));
  const server = createServer((request, response) => {
    void read(request).then((text) => {
      const target = request.headers['x-amz-target'];
      // Lambda's REST API: POST /2015-03-31/functions/<name>/invocations.
      const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? '');
      let stub: StubRequest;
      if (invoke) {
        stub = { operation: 'Invoke', body: { FunctionName: decodeURIComponent(invoke[1]!), InvocationType: request.headers['x-amz-invocation-type'] ?? 'RequestResponse', Payload: text } };
      } else if (typeof target === 'string') {
        stub = { operation: target.split('.').pop()!, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      } else {
        const form = Object.fromEntries(new URLSearchParams(text));
        stub = { operation: String(form.Action ?? 'Unknown'), body: form };
      }
      requests.push(stub);
      const answer = answers.get(stub.operation);
      const json = typeof target === 'string';
      if (!answer) {
        response.writeHead(400, { 'content-type': json ? 'application/x-amz-json-1.1' : 'text/xml' });
        response.end(json ? JSON.stringify({ __type: 'UnknownOperationException', message: `the stub has no answer for ${stub.operation}` }) : `<ErrorResponse><Error><Code>InvalidAction</Code><Message>${xmlEscape(`the stub has no answer for ${stub.operation}`)}</Message></Error></ErrorResponse>`);
        return;
      }
      const { status, body } = answer(stub);
      response.writeHead(status ?? 200, { 'content-type': json ? 'application/x-amz-json-1.1' : 'text/xml' });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    answer: (operation, answer) => void answers.set(operation, answer),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
