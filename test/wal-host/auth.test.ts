import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuthorizer } from '../../shared/wal-host/auth';
import type { StrongboxError } from '../../shared/errors';
import { removeDir, tempDir } from './harness';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('sbx-walauth-');
});
afterAll(() => removeDir(dir));

const request = { method: 'POST', url: new URL('https://abc.lambda-url.eu-west-1.on.aws/v1/wal/app/000000010000000000000001'), headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };

function captureStderr(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  return { lines, restore: () => (process.stderr.write = original) };
}

describe('token auth', () => {
  it('sends the trimmed token as a bearer, reads the file once, and warns when every user may read it', async () => {
    // Prepare
    const tokenFile = join(dir, 'open.token');
    await writeFile(tokenFile, '  s3cret-token \n', { mode: 0o644 });
    const stderr = captureStderr();
    try {
      // Act
      const authorize = createAuthorizer({ auth: { type: 'token', tokenFile } });
      const first = await authorize(request);
      await writeFile(tokenFile, 'changed\n');
      const second = await authorize(request);

      // Assess
      expect(first).toEqual({ authorization: 'Bearer s3cret-token' });
      expect(second).toEqual(first);
      expect(stderr.lines.filter((line) => line.includes('readable by every user'))).toHaveLength(1);
    } finally {
      stderr.restore();
    }
  });

  it('refuses an empty or missing token file with CONFIG_INVALID', async () => {
    await writeFile(join(dir, 'empty.token'), '\n', { mode: 0o600 });
    const empty = (await createAuthorizer({ auth: { type: 'token', tokenFile: join(dir, 'empty.token') } })(request).catch((e: unknown) => e)) as StrongboxError;
    expect(empty.code).toBe('CONFIG_INVALID');
    const missing = (await createAuthorizer({ auth: { type: 'token', tokenFile: join(dir, 'none.token') } })(request).catch((e: unknown) => e)) as StrongboxError;
    expect(missing.code).toBe('CONFIG_INVALID');
    expect(missing.message).toContain('ENOENT');
  });
});

describe('iam auth', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('signs with SigV4 for the lambda service of the region, payload hash included', async () => {
    // Prepare: static credentials, first in the default provider chain
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

    // Act
    const headers = await createAuthorizer({ auth: { type: 'iam', region: 'eu-west-1' } })(request);

    // Assess
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[^,]*content-type;host;x-amz-content-sha256;x-amz-date/);
    expect(headers['x-amz-content-sha256']).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(headers).not.toHaveProperty('host');
  });
});
