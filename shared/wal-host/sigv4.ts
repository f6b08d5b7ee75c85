import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { SignInput } from './auth';

/**
 * SigV4 signing for the archive Function URL (service `lambda`), credentials from the
 * default provider chain (instance profile, environment, SSO, …). Kept in its own module:
 * auth.ts imports it lazily, and scripts/build-wal.mjs embeds its bundle as a string that
 * is evaluated only when a request is signed (the token path never parses it).
 */

/**
 * A signer for `region`; each call resolves the headers to add (authorization,
 * x-amz-date, x-amz-content-sha256, x-amz-security-token). Rejects (when called) with the
 * SDK's error when no credentials can be found: this module is bundled apart, so it must
 * not throw Strongbox's error classes (auth.ts wraps them).
 */
export function createSigner(region: string): (request: SignInput) => Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: 'lambda', region, credentials: defaultProvider(), sha256: Hash.bind(null, 'sha256'), applyChecksum: true });
  return async ({ method, url, headers, body }) => {
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      body,
    });
    const added: Record<string, string> = {};
    for (const [key, value] of Object.entries(signed.headers)) {
      if (key.toLowerCase() !== 'host' && headers[key] === undefined) added[key] = value;
    }
    return added;
  };
}
