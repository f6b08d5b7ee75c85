import { Readable } from 'node:stream';
import { z } from 'zod';
import { handleArchiveRequest, MAX_JSON_BYTES, parseJson, type ArchiveRequest } from '../shared/archive-endpoint/routes';
import { DatabaseNotServedError, errorResponse, ForbiddenDatabaseError } from '../shared/archive-endpoint/errors';
import { archiverDecision, parseArchivers, roleOfCaller, type ArchiverRules } from '../shared/domain/wal/archivers';
import { EmfMetrics } from '../shared/adapters/metrics/emf';
import { S3Presigner } from '../shared/adapters/storage/presign';
import type { WalPresigner } from '../shared/ports/presign';
import { makeS3Client } from '../shared/adapters/storage/s3-client';
import { InputError } from '../shared/errors';
import { noMetrics, type Metrics } from '../shared/metrics';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { BodyTooLargeError, type WalArchiveDeps } from '../shared/usecases/wal-archive';
import { COMPRESSION_HEADROOM_BYTES } from '../shared/usecases/wal-archive/declaration';
import { walCodec } from '../shared/adapters/wal-codec/inspect';

/** The archive endpoint's adapters in AWS: presign mode always (WAL bytes never pass through Lambda). */
export interface ArchiveEndpointFunctionDeps extends WalArchiveDeps {
  presigner: WalPresigner;
  /** The largest stored WAL object accepted; default the largest a valid declaration can have (1 GiB + 1 MiB). */
  maxSegmentBytes?: number;
  /** WalSegmentsArchived goes here (EMF in AWS): one per WAL file newly stored (a `complete` answered 201). */
  metrics?: Metrics;
  /**
   * Which caller role may use which database (STRONGBOX_ARCHIVERS, shared/domain/wal/archivers.ts):
   * a database no rule names is 403 DATABASE_NOT_SERVED, another role's 403 FORBIDDEN.
   * Absent: every caller the Function URL admits may use every database (said once, WARN).
   */
  archivers?: ArchiverRules;
}

/** A Function URL response (payload format 2.0). */
export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const MAX_STORED_BYTES = (1 << 30) + COMPRESSION_HEADROOM_BYTES;

const eventSchema = z.looseObject({
  rawPath: z.string(),
  rawQueryString: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
  requestContext: z.looseObject({
    http: z.looseObject({ method: z.string() }),
    authorizer: z.looseObject({ iam: z.looseObject({}).nullish() }).nullish(),
  }),
});
type FunctionUrlEvent = z.infer<typeof eventSchema>;

/**
 * The archive endpoint as a Lambda Function URL handler (payload format 2.0), presign mode
 * only: the routes and answers are the local endpoint's (shared/archive-endpoint/routes.ts),
 * bytes-mode routes answer 404 with a hint. The Function URL's AWS_IAM auth verifies the
 * SigV4 signature before the function runs; as defence in depth a request whose context
 * carries no IAM caller is refused with 401. Never throws: every failure is an error document.
 */
export function makeArchiveEndpointHandler(deps: ArchiveEndpointFunctionDeps) {
  const maxSegmentBytes = deps.maxSegmentBytes ?? MAX_STORED_BYTES;
  if (!deps.archivers) deps.log.warn('STRONGBOX_ARCHIVERS is not set: every role the Function URL admits may use every database\'s WAL archive', { hint: 'set it to <role>=<database>,…;… (docs/wal.md)' });
  return async (input: unknown): Promise<FunctionUrlResult> => {
    const started = Date.now();
    const parsed = eventSchema.safeParse(input);
    if (!parsed.success) {
      deps.log.warn('archive request refused: not a Function URL event', { issue: parsed.error.issues[0]?.message });
      return toResult(400, errorResponse(new InputError('the event is not a Function URL request', 'invoke the archive endpoint through its Function URL')).body);
    }
    const event = parsed.data;
    const request = toRequest(event);
    const { response, match, error } = await handleArchiveRequest(
      { mode: 'presign', deps, maxSegmentBytes, authentication: 'iam', authenticate: () => hasIamCaller(event), authorize: (_request, database) => authorizeCaller(deps.archivers, event, database) },
      request,
    );
    const result = 'json' in response ? toResult(response.status, response.json, response.headers) : toResult(500, errorResponse(new Error('a stream answer in presign mode')).body);
    const attributes = {
      method: request.method.slice(0, 16),
      route: match?.route ?? 'none',
      database: match?.database,
      wal: match?.name,
      status: result.statusCode,
      ms: Date.now() - started,
      ...(result.statusCode >= 500 && error instanceof Error ? { reason: error.message } : {}),
    };
    if (result.statusCode >= 500) deps.log.error('archive request', attributes);
    else deps.log.info('archive request', attributes);
    if (match?.route === 'complete' && result.statusCode === 201) {
      const metrics = deps.metrics ?? noMetrics;
      metrics.record('WalSegmentsArchived', 1, { database: match.database, wal: match.name });
      metrics.flush();
    }
    return result;
  };
}

function hasIamCaller(event: FunctionUrlEvent): boolean {
  const iam = event.requestContext.authorizer?.iam as Record<string, unknown> | null | undefined;
  if (!iam) return false;
  return ['accessKey', 'userArn', 'callerId'].some((field) => typeof iam[field] === 'string' && (iam[field] as string).length > 0);
}

/** Per-database authorisation of the caller's role (see ArchiveEndpointFunctionDeps.archivers). */
function authorizeCaller(rules: ArchiverRules | undefined, event: FunctionUrlEvent, database: string): void {
  if (!rules) return;
  const userArn = (event.requestContext.authorizer?.iam as Record<string, unknown> | null | undefined)?.userArn;
  const role = roleOfCaller(typeof userArn === 'string' ? userArn : undefined);
  const decision = archiverDecision(rules, role, database);
  if (decision === 'not-served') throw new DatabaseNotServedError(database);
  if (decision === 'forbidden') throw new ForbiddenDatabaseError(database, role ? `role ${role}` : 'a caller that is not an assumed role');
}

function toRequest(event: FunctionUrlEvent): ArchiveRequest {
  const headers = new Map(Object.entries(event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
  const body = (): Buffer => (event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8'));
  return {
    method: event.requestContext.http.method,
    // The query string is kept so that the route parser refuses it as the local endpoint does.
    target: event.rawQueryString ? `${event.rawPath}?${event.rawQueryString}` : event.rawPath,
    header: (name) => headers.get(name.toLowerCase()),
    async json() {
      const bytes = body();
      if (bytes.length > MAX_JSON_BYTES) throw new BodyTooLargeError(`a JSON body of ${bytes.length} bytes`, MAX_JSON_BYTES);
      return parseJson(bytes);
    },
    bytes: () => Readable.from([body()]),
  };
}

function toResult(statusCode: number, json: unknown, headers: Record<string, string> = {}): FunctionUrlResult {
  return { statusCode, headers: { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(json) };
}

/** The adapters of the deployed function (serverless.yml sets STRONGBOX_BUCKET and the others awsDeps reads, and STRONGBOX_ARCHIVERS). */
/** The function's wiring from its environment (`clients`: the SDK clients, given by tests against stand-ins). */
export function functionDeps(env: NodeJS.ProcessEnv, clients?: AwsClients): ArchiveEndpointFunctionDeps {
  const { storage, alerts, log, clock } = awsDeps(env, lambdaLog, clients);
  const presigner = new S3Presigner(clients?.s3 ?? makeS3Client(), requiredEnv(env, 'STRONGBOX_BUCKET'));
  const limit = Number(env.STRONGBOX_WAL_MAX_BYTES);
  const archivers = env.STRONGBOX_ARCHIVERS ? parseArchivers(env.STRONGBOX_ARCHIVERS) : undefined;
  return {
    storage,
    alerts,
    log,
    clock,
    codec: walCodec,
    presigner,
    metrics: new EmfMetrics(log),
    ...(Number.isInteger(limit) && limit > 0 ? { maxSegmentBytes: limit } : {}),
    ...(archivers ? { archivers } : {}),
  };
}

let handle: ((event: unknown) => Promise<FunctionUrlResult>) | undefined;

export const handler = lambdaHandler('archive-endpoint', (event: unknown) => (handle ??= makeArchiveEndpointHandler(functionDeps(process.env)))(event));
