import { AccessDeniedError, ObjectInColdStorageError, ObjectNotFoundError, StorageError, StrongboxError } from '../../errors';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const CREDENTIAL_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
]);

interface SdkErrorShape {
  name?: string;
  /** InvalidObjectState: the object's archive storage class. */
  StorageClass?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Turns an AWS SDK (or network) error into the project's error.
 *
 * `NoSuchKey` / `NotFound` become ObjectNotFoundError and `InvalidObjectState` (an archived
 * object) ObjectInColdStorageError when `missingKey` is given (a read of that key); everything else becomes a StorageError whose hint says where to look:
 * credentials, the bucket name, or the endpoint. StrongboxErrors pass through unchanged.
 *
 * @param action the S3 operation, for the message (`GetObject`).
 * @param where the object or prefix as `s3://bucket/key`, for the message.
 */
export function s3Error(action: string, where: string, error: unknown, missingKey?: string): StrongboxError {
  if (error instanceof StrongboxError) return error;
  const sdk = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = sdk.name ?? 'Error';
  const status = sdk.$metadata?.httpStatusCode;
  if (missingKey !== undefined && (name === 'NoSuchKey' || name === 'NotFound')) {
    return new ObjectNotFoundError(missingKey, { cause: error });
  }
  // A GET of an object in GLACIER / DEEP_ARCHIVE that has no retrieved copy.
  if (missingKey !== undefined && name === 'InvalidObjectState') {
    return new ObjectInColdStorageError(missingKey, sdk.StorageClass ?? 'GLACIER', { cause: error });
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException') return accessDenied(action, where, error, missingKey !== undefined);
  const detail = [name, sdk.code !== undefined && sdk.code !== name ? sdk.code : undefined, status !== undefined ? `HTTP ${status}` : undefined]
    .filter(Boolean)
    .join(', ');
  const message = `S3 ${action} ${where} failed (${detail}): ${sdk.message ?? String(error)}`;
  return new StorageError(message, hintFor(name, sdk.code, status), { cause: error });
}

function hintFor(name: string, code: string | undefined, status: number | undefined): string {
  if (name === 'NoSuchBucket') {
    return 'check the bucket name in the configuration and that the bucket exists in the configured region (and, with a custom endpoint, on that endpoint)';
  }
  if (CREDENTIAL_NAMES.has(name) || status === 403) {
    return 'check the AWS credentials (profile, role or keys) and that their policy allows this action on the bucket and prefix';
  }
  if ((code !== undefined && NETWORK_CODES.has(code)) || name === 'TimeoutError' || name === 'RequestTimeout') {
    return 'check the S3 endpoint (URL, port, DNS, network or VPC endpoint) and that it is up; the request was retried before giving up';
  }
  if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || status === 301) {
    return 'the bucket lives in another region: set the region to the bucket\'s region';
  }
  return 'check the credentials, the bucket name and the endpoint; if they are right, S3 may be failing: try again later';
}

/** What IAM checks for each S3 operation the adapters make. */
const IAM_ACTIONS: Record<string, string> = {
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  get: 's3:GetObject',
  head: 's3:GetObject',
  PutObject: 's3:PutObject',
  upload: 's3:PutObject',
  DeleteObjects: 's3:DeleteObject',
  ListObjectsV2: 's3:ListBucket',
  list: 's3:ListBucket',
  RestoreObject: 's3:RestoreObject',
};

/** s3://bucket/key as an IAM resource ARN (a listing is checked on the bucket). */
function resourceArn(where: string, iamAction: string): string {
  const path = where.replace(/^s3:\/\//, '');
  return iamAction === 's3:ListBucket' ? `arn:aws:s3:::${path.split('/')[0]}` : `arn:aws:s3:::${path}`;
}

function accessDenied(action: string, where: string, error: unknown, read: boolean): AccessDeniedError {
  const iamAction = IAM_ACTIONS[action] ?? `s3:${action}`;
  const bucket = where.replace(/^s3:\/\//, '').split('/')[0];
  const missing = read ? ` — or, if the object does not exist, s3:ListBucket on arn:aws:s3:::${bucket} (without it S3 answers 403 for a missing key instead of 404)` : '';
  return new AccessDeniedError(
    `S3 ${action} ${where} was denied (AccessDenied)`,
    `the role this runs as needs ${iamAction} on ${resourceArn(where, iamAction)}${missing}: grant it in the function's iamRoleStatements (serverless.yml) or the task role (deploy/ecs.yml), then deploy again; outside AWS, check the credentials' policy`,
    { cause: error },
  );
}

/** S3's refusal of a conditional write (`If-None-Match: *`): the key holds an object (412 PreconditionFailed). */
export function isPreconditionFailed(error: unknown): boolean {
  const sdk = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  return sdk.name === 'PreconditionFailed' || sdk.$metadata?.httpStatusCode === 412;
}

/** S3's 409 ConditionalRequestConflict: another conditional write of the key was in progress; the request may be sent again. */
export function isConditionalConflict(error: unknown): boolean {
  const sdk = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  return sdk.name === 'ConditionalRequestConflict' || (sdk.$metadata?.httpStatusCode === 409 && sdk.name !== 'OperationAborted');
}

/** A write stopped by its signal: nothing was stored (the multipart upload is aborted first). */
export function abortedError(key: string, signal: AbortSignal, error: unknown): StorageError {
  return new StorageError(`write of ${key} was aborted; nothing was stored`, 'write it again when the operation is resumed', { cause: signal.reason ?? error });
}
