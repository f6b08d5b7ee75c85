import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Records every call the real AWS SDK clients make, with the function or task it ran as
 * (its principal), and makes the stand-ins answer as AWS would where they are kinder:
 *
 * - a GET or HEAD of a missing S3 key by a principal without `s3:ListBucket` on the bucket
 *   gets 403 AccessDenied, not 404 (AWS documents this; s3rver always says 404);
 * - with Object Lock on, a PutObject or UploadPart that carries neither Content-MD5 nor an
 *   x-amz-checksum-* header is refused (400 InvalidRequest), as S3 refuses it for a bucket
 *   with default retention.
 *
 * - a call over a service limit where the code meets one (SNS message and Step Functions
 *   input 256 KB, DynamoDB item 400 KB, S3 10,000 parts of at most 5 GiB) is refused as AWS
 *   refuses it;
 * - with `authorize`, a call its principal's role would deny fails with AccessDenied before
 *   it is sent, as AWS refuses it, so a missing grant breaks the test that needs it.
 *
 * Installed as a middleware on each client (`instrument`), so presigned URLs made with an
 * instrumented client are recorded too (the presigner runs the client's stack).
 */

export interface RecordedCall {
  principal: string;
  /** The SDK client's service, e.g. "S3", "DynamoDB", "SNS". */
  service: string;
  /** The command without its suffix, e.g. "GetObject", "Put" (document client), "Publish". */
  command: string;
  input: Record<string, unknown>;
  /** True when the command only made a presigned URL (nothing was sent). */
  presigned: boolean;
  outcome: 'ok' | 'error';
  errorName?: string;
  status?: number;
}

/** Answers whether a principal may do an action on a resource (the packaged policies). */
export type Allows = (principal: string, action: string, resource: string) => Promise<boolean>;

/** The first IAM request of a call its principal's role would deny, or undefined: the call then fails as in AWS. */
export type Authorize = (call: RecordedCall) => Promise<{ action: string; resource: string } | undefined>;

export interface Strictness {
  allows?: Allows;
  /** Checked before each call is sent (presigned URLs included): a denied call gets AccessDenied. */
  authorize?: Authorize;
  /** The bucket has Object Lock with default retention. */
  objectLock?: boolean;
}

const principalStore = new AsyncLocalStorage<string>();

/** AWS's service limits the harness enforces where the code meets them (FIELD-NOTES, "AWS rules"). */
export const LIMITS = {
  snsMessageBytes: 256 * 1024,
  stateInputBytes: 256 * 1024,
  dynamoItemBytes: 400 * 1024,
  s3Parts: 10_000,
  s3PartBytes: 5 * 1024 ** 3,
  s3PutBytes: 5 * 1024 ** 3,
} as const;

const bytesOf = (value: unknown): number => (value === undefined ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value instanceof Uint8Array ? value.byteLength : Buffer.byteLength(JSON.stringify(value)));

/** The limits a recorder enforces: AWS's (LIMITS), or scaled down by a test (e.g. 20 S3 parts). */
export type Limits = { readonly [K in keyof typeof LIMITS]: number };

/** The limit a call breaks, as AWS would refuse it (name, status, message), or undefined. */
export function brokenLimit(service: string, command: string, input: Record<string, unknown>, limits: Limits = LIMITS): { name: string; status: number; message: string } | undefined {
  const tooBig = (name: string, what: string, size: number, limit: number) => (size > limit ? { name, status: 400, message: `${what} is ${size} bytes, over the ${limit}-byte limit` } : undefined);
  if (service === 'SNS' && command === 'Publish') return tooBig('InvalidParameterException', 'SNS message', bytesOf(input.Message) + bytesOf(input.MessageAttributes) + bytesOf(input.Subject), limits.snsMessageBytes);
  if (service === 'SFN' && command === 'StartExecution') return tooBig('InvalidExecutionInput', 'Step Functions execution input', bytesOf(input.input), limits.stateInputBytes);
  if (service === 'DynamoDB' && (command === 'Put' || command === 'PutItem')) return tooBig('ValidationException', 'DynamoDB item', bytesOf(input.Item), limits.dynamoItemBytes);
  if (service === 'DynamoDB' && (command === 'Update' || command === 'UpdateItem')) return tooBig('ValidationException', 'DynamoDB update values', bytesOf(input.ExpressionAttributeValues), limits.dynamoItemBytes);
  if (service === 'S3' && command === 'UploadPart') {
    if (Number(input.PartNumber) > limits.s3Parts) return { name: 'InvalidArgument', status: 400, message: `Part number must be an integer between 1 and ${limits.s3Parts}` };
    return tooBig('EntityTooLarge', 'S3 part', bytesOf(input.Body), limits.s3PartBytes);
  }
  if (service === 'S3' && command === 'PutObject' && input.Body instanceof Uint8Array) return tooBig('EntityTooLarge', 'S3 PutObject body', input.Body.byteLength, limits.s3PutBytes);
  return undefined;
}

/** Runs `act` as `principal`: every call it makes through an instrumented client is recorded as that principal's. */
export function asPrincipal<T>(principal: string, act: () => Promise<T>): Promise<T> {
  return principalStore.run(principal, act);
}

/** An error shaped like the SDK's service errors, for the answers the stand-ins do not give. */
function serviceError(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { name, Code: name, $fault: 'client', $metadata: { httpStatusCode: status } });
}

interface Middlewared {
  middlewareStack: {
    add(middleware: unknown, options: { step: string; name: string; override?: boolean; priority?: string }): void;
  };
  config: { serviceId?: string };
}

export class CallRecorder {
  readonly calls: RecordedCall[] = [];
  /** Every call refused for a service limit (see LIMITS). */
  readonly brokenLimits: string[] = [];
  strictness: Strictness = {};
  /** The service limits enforced; AWS's unless a test scales them down. */
  limits: Limits = LIMITS;

  /** Adds the recording (and strictness) middleware to a client; returns the client. */
  instrument<C>(client: C, service?: string): C {
    const stack = (client as unknown as Middlewared).middlewareStack;
    const serviceName = service ?? (client as unknown as Middlewared).config.serviceId ?? 'unknown';
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string; clientName?: string }) => async (args: { input: Record<string, unknown> }) => {
        const principal = principalStore.getStore() ?? 'unattributed';
        const command = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const call: RecordedCall = { principal, service: serviceName, command, input: { ...args.input }, presigned: false, outcome: 'ok' };
        this.calls.push(call);
        const broken = brokenLimit(serviceName, command, call.input, this.limits);
        if (broken) {
          call.outcome = 'error';
          call.errorName = broken.name;
          call.status = broken.status;
          this.brokenLimits.push(`${principal}: ${serviceName} ${command}: ${broken.message}`);
          throw serviceError(broken.name, broken.status, broken.message);
        }
        const denied = await this.strictness.authorize?.(call);
        if (denied) {
          call.outcome = 'error';
          call.errorName = 'AccessDenied';
          call.status = 403;
          const name = serviceName === 'S3' ? 'AccessDenied' : 'AccessDeniedException';
          throw serviceError(name, 403, `User: ${principal} is not authorized to perform: ${denied.action} on resource: ${denied.resource} because no identity-based policy allows the ${denied.action} action`);
        }
        try {
          const result = (await next(args)) as { output?: { presigned?: unknown } } | undefined;
          // A presigner's stack stops before sending and returns the signed request as the output.
          if (result?.output?.presigned !== undefined) call.presigned = true;
          return result;
        } catch (error) {
          const failure = error as { name?: string; $metadata?: { httpStatusCode?: number } };
          call.outcome = 'error';
          call.errorName = failure.name;
          call.status = failure.$metadata?.httpStatusCode;
          const missing = serviceName === 'S3' && (command === 'GetObject' || command === 'HeadObject') && (call.status === 404 || failure.name === 'NoSuchKey' || failure.name === 'NotFound');
          const allows = this.strictness.allows;
          if (missing && allows && !(await allows(principal, 's3:ListBucket', `arn:aws:s3:::${String(args.input.Bucket)}`))) {
            call.errorName = 'AccessDenied';
            call.status = 403;
            throw serviceError('AccessDenied', 403, 'Access Denied');
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'strongboxCallRecorder', override: true },
    );
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { request?: { headers?: Record<string, string> } }) => {
        const command = (context.commandName ?? '').replace(/Command$/, '');
        if (this.strictness.objectLock && serviceName === 'S3' && (command === 'PutObject' || command === 'UploadPart')) {
          const headers = Object.keys(args.request?.headers ?? {}).map((name) => name.toLowerCase());
          if (!headers.includes('content-md5') && !headers.some((name) => name.startsWith('x-amz-checksum-'))) {
            throw serviceError('InvalidRequest', 400, 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
          }
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'strongboxObjectLockRule', override: true, priority: 'low' },
    );
    return client;
  }

  /** The calls of one principal. */
  of(principal: string): RecordedCall[] {
    return this.calls.filter((call) => call.principal === principal);
  }
}
