/**
 * Turns DynamoDB SDK errors into Strongbox errors, with hints that name the table,
 * the region and the endpoint the client was talking to.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AccessDeniedError, CatalogError, StrongboxError } from '../../errors';

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'MissingAuthenticationTokenException']);
const THROTTLING_ERRORS = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException']);

/** True when a conditional write lost its condition. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/** True when DynamoDB answered that the table (or index) does not exist. */
export function isResourceNotFound(error: unknown): boolean {
  return errorName(error) === 'ResourceNotFoundException';
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node's happy-eyeballs connect wraps the per-address failures in an AggregateError.
  if (error instanceof AggregateError) return error.errors.map(errorCode).find((c) => c !== undefined);
  return undefined;
}

/**
 * "table "x" in region r at endpoint e", from the client's configuration. Never throws:
 * this is only for messages.
 */
export async function describeTarget(client: DynamoDBClient | DynamoDBDocumentClient, tableName: string): Promise<string> {
  let region = 'the default region';
  let endpoint = 'the AWS endpoint';
  try {
    region = await client.config.region();
  } catch {
    // No region configured: the SDK's own error says so.
  }
  try {
    const resolved = client.config.endpoint ? await client.config.endpoint() : undefined;
    if (resolved) endpoint = `${resolved.protocol}//${resolved.hostname}${resolved.port ? `:${resolved.port}` : ''}${resolved.path === '/' ? '' : resolved.path}`;
  } catch {
    // Keep the generic wording.
  }
  return `table "${tableName}" in region ${region} at ${endpoint}`;
}

/**
 * A CatalogError for a failed `action` (e.g. "read backup 42"), keeping the SDK error as
 * its cause. A StrongboxError passes through unchanged. Never throws.
 */
export async function toCatalogError(error: unknown, action: string, client: DynamoDBClient | DynamoDBDocumentClient, tableName: string): Promise<StrongboxError> {
  if (error instanceof StrongboxError) return error;
  const target = await describeTarget(client, tableName);
  const name = errorName(error);
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (isResourceNotFound(error)) {
    return new CatalogError(
      `cannot ${action}: ${target} does not exist`,
      'check the catalog table name (STRONGBOX_TABLE in AWS) and the region/endpoint; in AWS deploy the stack, locally let `npm start` (or any local command) create it',
      { cause: error },
    );
  }
  if ((code !== undefined && UNREACHABLE_CODES.has(code)) || name === 'TimeoutError') {
    return new CatalogError(
      `cannot ${action}: ${target} is unreachable (${code ?? name})`,
      'check that DynamoDB is reachable from here (network, VPC endpoint), or locally that the catalog server of `npm start` is still running',
      { cause: error },
    );
  }
  if (name !== undefined && CREDENTIAL_ERRORS.has(name)) {
    return new CatalogError(`cannot ${action}: ${target} refused the credentials (${name})`, 'check the AWS credentials this process uses (profile, role, environment)', { cause: error });
  }
  if (name === 'AccessDeniedException') {
    // AWS names the action and resource it refused: "… not authorized to perform: dynamodb:PutItem on resource: arn:…".
    const denied = /perform: (\S+) on resource: (\S+)/.exec(detail);
    const what = denied ? `${denied[1]} on ${denied[2]}` : `this action on ${target}`;
    return new AccessDeniedError(
      `cannot ${action}: access denied to ${target}${denied ? ` (${denied[1]})` : ''}`,
      `the role this runs as needs ${what}${denied?.[1] && /Item$/.test(denied[1]) ? ' (a dynamodb:LeadingKeys condition may limit it to other keys)' : ''}: grant it in the function's iamRoleStatements (serverless.yml) or the task role (deploy/ecs.yml), then deploy again`,
      { cause: error },
    );
  }
  if (name !== undefined && THROTTLING_ERRORS.has(name)) {
    return new CatalogError(`cannot ${action}: ${target} is throttling requests (${name})`, 'retry in a moment; if it persists, check the table capacity and account limits', { cause: error });
  }
  return new CatalogError(`cannot ${action} (${target}): ${name ?? 'error'}: ${detail}`, 'this is likely a bug or a table that does not match the expected schema; the logs have details', { cause: error });
}

/** Runs one catalog request; any SDK error becomes the project's error (toCatalogError). */
export async function catalogRequest<T>(client: DynamoDBClient | DynamoDBDocumentClient, tableName: string, action: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw await toCatalogError(error, action, client, tableName);
  }
}

/** Runs a conditional write: true when it happened, false when its condition was lost. */
export async function conditionalWrite(client: DynamoDBClient | DynamoDBDocumentClient, tableName: string, action: string, write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw await toCatalogError(error, action, client, tableName);
  }
}
