import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Where and how to reach DynamoDB (or a DynamoDB-compatible server on loopback). */
export interface DynamoClientOptions {
  /** Defaults to the SDK's region chain (AWS_REGION…), or `us-east-1` for a loopback endpoint. */
  region?: string;
  /** A custom endpoint, e.g. the local dynalite's `http://127.0.0.1:PORT`. */
  endpoint?: string;
  /** Defaults to the SDK's credential chain, or fixed local ones for a loopback endpoint. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Attempts per request, retries included (the SDK's default is 3). */
  maxAttempts?: number;
}

/** A local DynamoDB-compatible server checks no signature, but the SDK insists on signing. */
const LOOPBACK_CREDENTIALS = { accessKeyId: 'strongbox-local', secretAccessKey: 'strongbox-local' };

function isLoopback(endpoint: string): boolean {
  try {
    const { hostname } = new URL(endpoint);
    return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
  } catch {
    return false;
  }
}

/**
 * A low-level DynamoDB client (for CreateTable/DescribeTable). For a loopback endpoint it
 * needs neither a region nor credentials from the environment. Throws nothing itself: a
 * bad endpoint fails at the first request.
 */
export function makeDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  const local = options.endpoint !== undefined && isLoopback(options.endpoint);
  const region = options.region ?? (local ? (process.env.AWS_REGION ?? 'us-east-1') : undefined);
  const credentials = options.credentials ?? (local ? LOOPBACK_CREDENTIALS : undefined);
  const client = new DynamoDBClient({
    ...(region !== undefined ? { region } : {}),
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
  // The SDK's logger middleware copies every response through its sensitive-data filter for a
  // logger Strongbox never gives it (a no-op one): ~9 MB of garbage for status of 200 databases.
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/**
 * Wraps a low-level client as the document client DynamoCatalog needs: plain JS values
 * in and out, undefined attributes left out of the item. Destroy the low-level client
 * to release its sockets (the document client's `destroy` does not).
 */
export function toDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** `toDocumentClient(makeDynamoClient(options))`. */
export function makeDynamoDocumentClient(options: DynamoClientOptions = {}): DynamoDBDocumentClient {
  return toDocumentClient(makeDynamoClient(options));
}
