import { readFileSync, statSync } from 'node:fs';
import { ConfigError, StrongboxError } from '../errors';
import type { HostConfig } from './config';
import { logLine } from './log';

/**
 * The Authorization of requests to the archive endpoint: a bearer token read from a file
 * (local mode) or a SigV4 signature for a Lambda Function URL (AWS). The AWS libraries are
 * imported only when signing, so the token path does not pay their load time.
 */

/** A request to sign; `headers` must already hold everything that is sent. */
export interface SignInput {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
}

/** Returns the headers to add to a request bound for the endpoint's own origin. */
export type Authorizer = (request: SignInput) => Promise<Record<string, string>>;

/**
 * The authorizer for `config.auth`. Throws (when called) ConfigError when the token file
 * cannot be read or is empty, StrongboxError AUTH_SIGNING_FAILED when no AWS credentials
 * can be found.
 */
export function createAuthorizer(config: Pick<HostConfig, 'auth'>): Authorizer {
  const auth = config.auth;
  if (auth.type === 'token') {
    let token: string | undefined;
    return async () => {
      token ??= readToken(auth.tokenFile);
      return { authorization: `Bearer ${token}` };
    };
  }
  let signer: Promise<(request: SignInput) => Promise<Record<string, string>>> | undefined;
  return async (request) => {
    signer ??= loadSigner(auth.region);
    return (await signer)(request);
  };
}

function readToken(path: string): string {
  let text: string;
  try {
    // Others may read it only by mistake: say so, but do not stop archiving over it.
    if ((statSync(path).mode & 0o004) !== 0) {
      logLine('warn', `the archive token file ${path} is readable by every user`, { hint: `chmod 0640 ${path} (owner and the postgres group only)` });
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot read the archive token file ${path} (${code ?? 'error'})`,
      code === 'EACCES' ? 'the postgres OS user must be able to read it: chgrp postgres and chmod 0640 the file' : 'check auth.tokenFile in the WAL host config; `npm start` writes the token',
      { cause: error },
    );
  }
  const token = text.trim();
  if (!token || /\s/.test(token)) throw new ConfigError(`the archive token file ${path} is empty or holds more than one word`, 'write the token alone in the file; `npm start` writes it');
  return token;
}

async function loadSigner(region: string): Promise<(request: SignInput) => Promise<Record<string, string>>> {
  const { createSigner } = await import('./sigv4');
  const sign = createSigner(region);
  return async (request) => {
    try {
      return await sign(request);
    } catch (error) {
      throw new StrongboxError(
        'AUTH_SIGNING_FAILED',
        `cannot sign the request to the archive endpoint: ${(error as Error).message}`,
        'give this host an IAM role (instance profile) or AWS credentials allowed to invoke the archive Function URL',
        { cause: error },
      );
    }
  };
}
