import { SNSClient } from '@aws-sdk/client-sns';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { makeDynamoClient, toDocumentClient } from '../../../shared/adapters/catalog/client';
import { makeS3Client } from '../../../shared/adapters/storage/s3-client';
import { ensureCatalogTable, startDynalite } from '../../../shared/local/dynalite-server';
import type { AwsClients } from '../../../shared/runtime/aws';
import { packageTemplate } from '../../deploy/template';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../s3-server';
import { decide } from './evaluate';
import { iamRequestsOf, type IamRequest } from './iam-requests';
import { asPrincipal, CallRecorder, type RecordedCall } from './recorder';
import { startServiceStub, type ServiceStub } from './service-stub';
import { REGION, stackModel, type StackModel } from './stack-model';

/**
 * AWS as the deployed stack meets it, on loopback: the packaged template (its roles and
 * names), s3rver with the stack's bucket name, dynalite with its table, a stub for SNS / ECS
 * / Step Functions / Secrets Manager / SSM, and a recorder on every client that makes the
 * stand-ins as strict as AWS (403 for a missing key without s3:ListBucket, Object Lock's
 * checksum rule). `check()` evaluates every recorded call against its principal's
 * packaged policies.
 */
export interface AwsWorld {
  model: StackModel;
  s3: S3TestServer;
  stub: ServiceStub;
  recorder: CallRecorder;
  /** The environment serverless.yml gives every function. */
  env: NodeJS.ProcessEnv;
  /** Fresh instrumented clients (a function's own, as in its container). */
  clients(): AwsClients & { dynamoEndpoint: string };
  /** Clients that are not recorded, for a test's own setup and inspection (the stand-ins as an operator would see them). */
  adminClients(): AwsClients;
  /** An instrumented client of any other service, pointed at the stub. */
  stubClient<C>(make: (config: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } }) => C): C;
  check(): Promise<Denial[]>;
  /**
   * Invokes a function's handler as Lambda would: as its principal, with the payload limits
   * (an asynchronous event — SNS, EventBridge, a schedule — 256 KB; a synchronous request
   * and every response 6 MB), and its duration and the process's peak RSS growth noted for
   * the report (in-process: an upper bound of the handler's own memory).
   */
  invoke<E, R>(principal: string, handler: (event: E) => Promise<R>, event: E, options?: { async?: boolean }): Promise<R>;
  /** Per principal: invocations, the longest, and the largest RSS growth. */
  invocations: Map<string, { count: number; maxMs: number; maxRssMiB: number }>;
  /**
   * The grants no request used: every request of the recorded calls plus `listed` (calls
   * the suites cannot make), evaluated; then each principal's statements and actions that
   * allowed none of them.
   */
  unusedGrants(listed: readonly ListedCall[]): Promise<UnusedGrant[]>;
  stop(): Promise<void>;
}

/** A call the suites cannot make, from the reviewed list (test/aws-rules/unreached-calls.ts). */
export interface ListedCall {
  principal: string;
  request: IamRequest;
  /** The code (or AWS service) that makes it. */
  codePath: string;
}

export interface UnusedGrant {
  principal: string;
  policy: string;
  statement: number;
  actions: string[];
  resource: unknown;
}

export interface Denial {
  principal: string;
  call: string;
  request: IamRequest;
  result: string;
  errors?: string;
}

const STUB_CREDENTIALS = { accessKeyId: 'AKIDSTUB', secretAccessKey: 'stub' };

/** Packages the template (one `sls package`, ~15 s) and starts the stand-ins. */
export async function startAwsWorld(params: Record<string, string> = {}): Promise<AwsWorld> {
  const packaged = await packageTemplate({ configFile: 'test/fixtures/strongbox.config.json', imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/strongbox-dump:1.2.3', ...params });
  await packaged.cleanup();
  const model = stackModel(packaged.template);
  const stops: Array<() => Promise<void>> = [];
  try {
    const s3 = await startS3Server(model.bucketName);
    stops.push(s3.stop);
    const dynalite = await startDynalite();
    stops.push(dynalite.stop);
    const admin = makeDynamoClient({ endpoint: dynalite.endpoint });
    await ensureCatalogTable(admin, model.tableName);
    admin.destroy();
    const stub = await startServiceStub();
    stops.push(stub.stop);
    const recorder = new CallRecorder();
    recorder.strictness.allows = async (principal, action, resource) => {
      const who = model.principals.get(principal);
      return who !== undefined && (await decide(model, who, { action, resource, context: {}, why: 'strictness' })).allowed;
    };
    recorder.strictness.authorize = async (call) => {
      const who = model.principals.get(call.principal);
      if (!who) return undefined; // reported by check()
      for (const request of iamRequestsOf(call, model)) {
        if (!(await decide(model, who, request)).allowed) return { action: request.action, resource: request.resource };
      }
      return undefined;
    };
    const created: Array<{ destroy(): void }> = [];
    const invocations = new Map<string, { count: number; maxMs: number; maxRssMiB: number }>();
    /** A function's clients (recorded), or an operator's (not recorded). */
    const makeClients = (recorded: boolean): AwsClients => {
      const keep = <C>(client: C, service: string): C => (recorded ? recorder.instrument(client, service) : client);
      const s3Client: S3Client = keep(makeS3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: REGION, credentials: S3RVER_CREDENTIALS }), 'S3');
      const low = keep(makeDynamoClient({ endpoint: dynalite.endpoint, region: REGION }), 'DynamoDB');
      const sns = keep(new SNSClient({ endpoint: stub.endpoint, region: REGION, credentials: STUB_CREDENTIALS }), 'SNS');
      created.push(s3Client, low, sns);
      const documents: DynamoDBDocumentClient = toDocumentClient(low);
      return { s3: s3Client, documents, sns };
    };
    const world: AwsWorld = {
      model,
      s3,
      stub,
      recorder,
      env: {
        STRONGBOX_BUCKET: model.bucketName,
        STRONGBOX_TABLE: model.tableName,
        STRONGBOX_ALERT_TOPIC_ARN: model.alertTopicArn,
        POWERTOOLS_SERVICE_NAME: `strongbox-${model.stage}`,
      },
      clients() {
        return { ...makeClients(true), dynamoEndpoint: dynalite.endpoint };
      },
      invocations,
      async invoke(principal, handler, event, options = {}) {
        const limit = options.async ? 256 * 1024 : 6 * 1024 * 1024;
        const eventBytes = Buffer.byteLength(JSON.stringify(event ?? null));
        if (eventBytes > limit) throw Object.assign(new Error(`the ${options.async ? 'asynchronous event' : 'request payload'} of ${principal} is ${eventBytes} bytes, over Lambda's ${limit}`), { name: 'RequestEntityTooLargeException' });
        const startRss = process.memoryUsage().rss;
        let peakRss = startRss;
        const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);
        const started = performance.now();
        try {
          const result = await asPrincipal(principal, () => handler(event));
          const responseBytes = Buffer.byteLength(JSON.stringify(result ?? null));
          if (responseBytes > 6 * 1024 * 1024) throw Object.assign(new Error(`the response of ${principal} is ${responseBytes} bytes, over Lambda's 6 MB`), { name: 'ResponseSizeTooLarge' });
          return result;
        } finally {
          clearInterval(sampler);
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          const seen = invocations.get(principal) ?? { count: 0, maxMs: 0, maxRssMiB: 0 };
          invocations.set(principal, { count: seen.count + 1, maxMs: Math.max(seen.maxMs, performance.now() - started), maxRssMiB: Math.max(seen.maxRssMiB, (peakRss - startRss) / 1024 ** 2) });
        }
      },
      adminClients: () => makeClients(false),
      stubClient(make) {
        const client = make({ endpoint: stub.endpoint, region: REGION, credentials: STUB_CREDENTIALS });
        created.push(client as unknown as { destroy(): void });
        return recorder.instrument(client);
      },
      async check() {
        const denials: Denial[] = [];
        for (const call of recorder.calls) {
          const principal = model.principals.get(call.principal);
          for (const request of iamRequestsOf(call, model)) {
            if (!principal) {
              denials.push({ principal: call.principal, call: describeCall(call), request, result: 'no such principal in the template' });
              continue;
            }
            const decision = await decide(model, principal, request);
            if (!decision.allowed) denials.push({ principal: call.principal, call: describeCall(call), request, result: decision.result, ...(decision.errors ? { errors: decision.errors } : {}) });
          }
        }
        return denials;
      },
      async unusedGrants(listed) {
        const used = new Map<string, Set<string>>(); // principal#policy#statement → actions used
        const note = async (principalName: string, request: IamRequest) => {
          const principal = model.principals.get(principalName);
          if (!principal) return;
          const decision = await decide(model, principal, request);
          for (const statement of decision.usedStatements) {
            const key = `${principalName}#${statement}`;
            if (!used.has(key)) used.set(key, new Set());
            used.get(key)!.add(request.action);
          }
        };
        for (const call of recorder.calls) for (const request of iamRequestsOf(call, model)) await note(call.principal, request);
        for (const item of listed) await note(item.principal, item.request);
        const unused: UnusedGrant[] = [];
        for (const principal of model.principals.values()) {
          for (const policy of principal.policies) {
            policy.document.Statement.forEach((statement: { Effect: string; Action?: string | string[]; Resource?: unknown }, index: number) => {
              if (statement.Effect !== 'Allow') return;
              const actions = ([] as string[]).concat(statement.Action ?? []);
              const usedActions = used.get(`${principal.name}#${policy.name}#${index}`) ?? new Set<string>();
              const idle = actions.filter((action) => ![...usedActions].some((done) => matchesAction(action, done)));
              if (idle.length) unused.push({ principal: principal.name, policy: policy.name, statement: index, actions: idle, resource: statement.Resource });
            });
          }
        }
        return unused;
      },
      async stop() {
        for (const client of created) client.destroy();
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
    return world;
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

export function describeCall(call: RecordedCall): string {
  const target = call.input.Key ?? call.input.TopicArn ?? call.input.SecretId ?? call.input.TableName ?? '';
  return `${call.service} ${call.command}${call.presigned ? ' (presigned)' : ''} ${String(typeof target === 'object' ? JSON.stringify(target) : target)}`.trim();
}

/** Denials as lines a person can act on. */
export function describeDenials(denials: readonly Denial[]): string {
  return denials.map((denial) => `${denial.principal}: ${denial.request.action} on ${denial.request.resource}${Object.keys(denial.request.context).length ? ` ${JSON.stringify(denial.request.context)}` : ''} → ${denial.result} (${denial.request.why}; call ${denial.call})${denial.errors ? ` ${denial.errors}` : ''}`).join('\n');
}

/** An IAM action pattern (`s3:Get*`, `*`) against an action. */
function matchesAction(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return regex.test(action);
}
