import { S3Client } from '@aws-sdk/client-s3';

/** How to reach S3 or an S3-compatible endpoint. */
export interface S3ClientOptions {
  /** Defaults to the SDK's resolution (AWS_REGION, profile), or `us-east-1` with a custom endpoint. */
  region?: string;
  /** A custom endpoint (`http://127.0.0.1:4568`); absent means AWS. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible servers. */
  forcePathStyle?: boolean;
  /** Static keys; absent means the SDK's default chain (environment, profile, role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * An S3 client fit for {@link S3Storage}.
 *
 * Checksums are computed and validated only when an operation requires them: with the
 * SDK's default (`WHEN_SUPPORTED`) a stream body is sent with aws-chunked framing that
 * some S3-compatible servers (s3rver) store verbatim, silently corrupting the object.
 * Strongbox verifies its own SHA-256 of every object instead. Requests are retried in
 * standard mode (4 attempts with jittered backoff), and connecting gives up after 5 s
 * so that a dead endpoint fails fast; reads have no idle timeout because a slow consumer
 * (pg_restore) may legitimately pause a download.
 */
export function makeS3Client(options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: options.region ?? (options.endpoint !== undefined ? 'us-east-1' : undefined),
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    retryMode: 'standard',
    maxAttempts: 4,
    requestHandler: { connectionTimeout: 5_000 },
  });
}
