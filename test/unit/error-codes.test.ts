import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorResponse } from '../../shared/archive-endpoint/errors';
import { printFailure, UsageError, type Output } from '../../shared/cli/output';
import { ERROR_CODES, exitCodeOf, httpStatusOf, isErrorCode, isRetryableCode } from '../../shared/error-codes';
import { asStrongboxError, InputError, StrongboxError } from '../../shared/errors';
import { ArchiveClient, isRetryable } from '../../shared/wal-host/client';
import { generate } from '../../scripts/gen-error-docs';
import { scanErrorCodes } from './error-code-scan';

const ROOT = join(import.meta.dirname, '../..');
const SCANNED = ['shared', 'functions', 'tasks', 'bin', 'scripts'];

describe('the error-code registry against the source', () => {
  const scan = scanErrorCodes(ROOT, SCANNED);

  it('sees the well-known codes, or it proves nothing', () => {
    expect(scan.files).toBeGreaterThan(200);
    // Each through another path: a subclass's super, a literal, a forwarding constructor, an entry's errorCode.
    expect([...scan.codes.keys()]).toEqual(expect.arrayContaining(['INPUT_INVALID', 'WAL_CODEC_FAILED', 'DB_UNREACHABLE', 'HEARTBEAT_LOST', 'VERIFY_TIMEOUT', 'USAGE_INVALID']));
  });

  it('registers every code the code raises', () => {
    const missing = [...scan.codes].filter(([code]) => !isErrorCode(code)).map(([code, sites]) => `${code} (${sites.join(', ')}): add it to shared/error-codes.ts`);
    expect(missing).toEqual([]);
  });

  it('raises every registered code somewhere, unless it is kept for compatibility', () => {
    const unused = Object.entries(ERROR_CODES).filter(([code, spec]) => !scan.codes.has(code) && !('kept' in spec)).map(([code]) => code);
    expect(unused).toEqual([]);
  });

  it('finds no code it cannot read (a code built at run time cannot be registered)', () => {
    expect(scan.dynamic).toEqual([]);
  });

  it('finds no bare `throw new Error` outside tests', () => {
    expect(scan.bareThrows).toEqual([]);
  });
});

describe('registry entries', () => {
  it.each(Object.entries(ERROR_CODES))('%s says what happened and what to do', (code, spec) => {
    expect(code).toMatch(/^[A-Z][A-Z0-9_]{2,}$/);
    expect(spec.means.length).toBeGreaterThan(10);
    expect(spec.hint.length).toBeGreaterThan(10);
  });

  it('keeps the keys sorted, so that a new code has one obvious place', () => {
    const keys = Object.keys(ERROR_CODES);
    expect(keys).toEqual([...keys].sort());
  });

  it('answers undefined-safe defaults for a code nobody registered', () => {
    expect(isErrorCode('toString')).toBe(false);
    expect(exitCodeOf('NOPE')).toBe(1);
    expect(httpStatusOf('NOPE')).toBeUndefined();
    expect(isRetryableCode('NOPE')).toBe(true);
  });
});

describe('decisions read from the registry', () => {
  // The archive endpoint's statuses as they were before the registry (docs/wal.md, protocol v1).
  it.each([
    ['BAD_WAL_NAME', 400], ['INPUT_INVALID', 400], ['UNAUTHENTICATED', 401], ['HANDOFF_REFUSED', 403], ['FORBIDDEN', 403],
    ['DATABASE_NOT_SERVED', 403], ['WAL_NOT_FOUND', 404], ['NOT_FOUND', 404], ['METHOD_NOT_ALLOWED', 405], ['WAL_CONFLICT', 409],
    ['SYSTEM_ID_MISMATCH', 409], ['BODY_TOO_LARGE', 413], ['CHECKSUM_MISMATCH', 422], ['WAL_CONTENT_INVALID', 422],
    ['WAL_HEADER_INVALID', 422], ['STORAGE_FAILED', 502], ['ACCESS_DENIED', 502], ['CATALOG_FAILED', 502],
  ] as const)('the endpoint answers %s with %i and the error itself', (code, status) => {
    const error = new StrongboxError(code, 'm', 'h');
    expect(errorResponse(error)).toEqual({ status, body: { error: { code, message: 'm', hint: 'h' } } });
  });

  it('the endpoint answers any other code 500 INTERNAL with its message and hint, and a bare failure without its message', () => {
    expect(errorResponse(new StrongboxError('DUMP_FAILED', 'm', 'h'))).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'm', hint: 'h' } } });
    expect(errorResponse(new TypeError('secret detail'))).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'the archive endpoint failed unexpectedly', hint: ERROR_CODES.INTERNAL.hint } } });
  });

  it.each([
    // What the same request meets again is not retried by wal-fetch…
    ['CONFIG_INVALID', false], ['UNAUTHENTICATED', false], ['BAD_WAL_NAME', false], ['INPUT_INVALID', false], ['WAL_NOT_FOUND', false],
    ['NOT_FOUND', false], ['METHOD_NOT_ALLOWED', false], ['WAL_CONFLICT', false], ['SYSTEM_ID_MISMATCH', false], ['BODY_TOO_LARGE', false],
    ['FORBIDDEN', false], ['DATABASE_NOT_SERVED', false],
    // …while the network, 5xx, damaged transfers and an unknown newer code are.
    ['ENDPOINT_UNREACHABLE', true], ['ENDPOINT_TIMEOUT', true], ['ENDPOINT_FAILED', true], ['HTTP_REFUSED', true], ['INTERNAL', true],
    ['STORAGE_FAILED', true], ['ACCESS_DENIED', true], ['CHECKSUM_MISMATCH', true], ['WAL_CODEC_FAILED', true],
  ] as const)('wal-fetch retries %s: %s', (code, retried) => {
    expect(isRetryable(new StrongboxError(code, 'm', 'h'))).toBe(retried);
  });

  it('a failure that is not a StrongboxError, or a code only a newer endpoint knows, is retried by wal-fetch', () => {
    expect(isRetryable(new Error('socket hang up'))).toBe(true);
    expect(isRetryableCode('A_NEWER_CODE')).toBe(true);
  });

  it.each([
    ['a usage error', new UsageError('--jobs many is not a number', 'e.g. --jobs 4'), 2, 'USAGE_INVALID'],
    ['a refused input', new InputError('--target-url must not contain a password', 'use DATABASE_URL'), 1, 'INPUT_INVALID'],
    ['any other code', new StrongboxError('DUMP_FAILED', 'pg_dump failed', 'see above'), 1, 'DUMP_FAILED'],
    ['a bare error', new Error('boom'), 1, 'UNEXPECTED'],
  ])('the CLI exits a command that failed with %s as its code says', (_name, error, exit, code) => {
    const written: string[] = [];
    const out: Output = { json: true, interactive: false, stdout: (text) => written.push(text), stderr: () => undefined };
    expect(printFailure(out, error)).toBe(exit);
    expect(JSON.parse(written.join('')).error.code).toBe(code);
  });

  it.each([
    ['a code it knows keeps it', 'WAL_CONFLICT', { code: 'WAL_CONFLICT', message: 'archive endpoint: other bytes' }],
    ['a code only a newer endpoint knows becomes ENDPOINT_FAILED, named in the message', 'A_NEWER_CODE', { code: 'ENDPOINT_FAILED', message: 'archive endpoint: [A_NEWER_CODE] other bytes' }],
  ])('the WAL host reading an endpoint\'s error document: %s', async (_name, code, expected) => {
    // Prepare: an endpoint on loopback that answers every request with this error document.
    const server = createServer((_request, response) => response.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, message: 'other bytes', hint: 'h' } })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new ArchiveClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, database: 'app', timeoutMs: 10_000, auth: { type: 'token', tokenFile: '/nonexistent' } }, async () => ({}));
      // Act, Assess
      await expect(client.prepareFetch('000000010000000000000001')).rejects.toMatchObject({ ...expected, hint: 'h' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('an error raised without a hint gets its code\'s default hint', () => {
    expect(new StrongboxError('WAL_BUNDLE_MISSING', 'dist/wal.js does not exist').hint).toBe(ERROR_CODES.WAL_BUNDLE_MISSING.hint);
    expect(asStrongboxError('boom').toJSON()).toEqual({ code: 'UNEXPECTED', message: 'boom', hint: ERROR_CODES.UNEXPECTED.hint });
  });
});

describe('generated docs', () => {
  it.each(generate(ROOT).map((f) => [f.file, f]))('%s holds the tables the registry generates (npx tsx scripts/gen-error-docs.ts)', (_file, f) => {
    expect(f.current).toBe(f.generated);
  });
});
