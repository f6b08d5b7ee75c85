import { describe, expect, it } from 'vitest';
import { matchRoute } from '../../shared/archive-endpoint/paths';
import { walFileRef } from '../../shared/domain/wal/file-ref';
import { errorResponse } from '../../shared/archive-endpoint/errors';
import type { ErrorCode } from '../../shared/error-codes';
import { StrongboxError } from '../../shared/errors';
import { assertWalTarget, declareWalFile, parseWalDeclaration, type WalDeclaration } from '../../shared/usecases/wal-archive';

const MIB = 1024 * 1024;
const HEX_A = 'a'.repeat(64);
const HEX_B = 'b'.repeat(64);
const SEGMENT = '000000010000000000000001';

const segment: WalDeclaration = { size: 16 * MIB, sha256: HEX_A, storedSize: 1234567, storedSha256: HEX_B, compression: 'zstd', systemId: '7311234567890123456', segmentSize: 16 * MIB, pgVersion: 15 };
const history: WalDeclaration = { size: 42, sha256: HEX_A, storedSize: 42, storedSha256: HEX_A, compression: 'none' };

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as StrongboxError).code;
  }
  return 'accepted';
}

describe('parseWalDeclaration', () => {
  it.each<[string, string, unknown]>([
    ['a compressed segment', SEGMENT, segment],
    ['a 1 MiB segment stored as is', SEGMENT, { ...segment, size: MIB, segmentSize: MIB, storedSize: MIB, storedSha256: HEX_A, compression: 'none' }],
    ['a segment without pgVersion (unknown magic)', SEGMENT, { ...segment, pgVersion: undefined }],
    ['a .partial file', `${SEGMENT}.partial`, segment],
    ['a history file', '00000002.history', history],
    ['a backup label', `${SEGMENT}.00000028.backup`, { ...history, size: 300, storedSize: 300 }],
    ['a compressed file slightly larger than the original', SEGMENT, { ...segment, storedSize: 16 * MIB + 100 }],
  ])('accepts %s', (_label, name, input) => {
    // Act
    const declaration = parseWalDeclaration(name, input);
    // Assess
    expect(declaration).toEqual(JSON.parse(JSON.stringify(input)));
  });

  it.each<[string, string, unknown, RegExp]>([
    ['not an object', SEGMENT, 'hello', /declaration/],
    ['a negative size', SEGMENT, { ...segment, size: -1 }, /size/],
    ['an upper-case SHA-256', SEGMENT, { ...segment, sha256: HEX_A.toUpperCase() }, /sha256/],
    ['a short storedSha256', SEGMENT, { ...segment, storedSha256: 'abc' }, /storedSha256/],
    ['an unknown compression', SEGMENT, { ...segment, compression: 'lz4' }, /compression/],
    ['a segment without systemId', SEGMENT, { ...segment, systemId: undefined }, /systemId and segmentSize/],
    ['a segment without segmentSize', `${SEGMENT}.partial`, { ...segment, segmentSize: undefined }, /systemId and segmentSize/],
    ['a systemId over 64 bits', SEGMENT, { ...segment, systemId: '18446744073709551616' }, /64 bits/],
    ['a systemId that is not decimal', SEGMENT, { ...segment, systemId: '0x1f' }, /systemId/],
    ['a segment size that PostgreSQL cannot have', SEGMENT, { ...segment, size: 3 * MIB, segmentSize: 3 * MIB }, /power of two/],
    ['a segment whose size is not the segment size', SEGMENT, { ...segment, size: 16 * MIB - 1 }, /not the segment size/],
    ['a stored size far over the original', SEGMENT, { ...segment, storedSize: 17 * MIB + 1 }, /more than 1 MiB over/],
    ['a history file with a systemId', '00000002.history', { ...history, systemId: '1' }, /no systemId/],
    ['a backup label with a segment size', `${SEGMENT}.00000028.backup`, { ...history, segmentSize: MIB }, /no systemId/],
    ['a history file over 1 MiB', '00000002.history', { ...history, size: MIB + 1, storedSize: MIB + 1 }, /over 1048576 bytes/],
    ['uncompressed with another stored hash', '00000002.history', { ...history, storedSha256: HEX_B }, /without compression/],
    ['uncompressed with another stored size', '00000002.history', { ...history, storedSize: 41 }, /without compression/],
    ['a pgVersion out of range', SEGMENT, { ...segment, pgVersion: 7 }, /pgVersion/],
    ['a fractional size', SEGMENT, { ...segment, storedSize: 1.5 }, /storedSize/],
  ])('refuses %s with INPUT_INVALID', (_label, name, input, message) => {
    // Act
    let caught: StrongboxError | undefined;
    try {
      parseWalDeclaration(name, input);
    } catch (error) {
      caught = error as StrongboxError;
    }
    // Assess
    expect(caught?.code).toBe('INPUT_INVALID');
    expect(caught?.message).toMatch(message);
    expect(caught?.hint).toMatch(/docs\/wal\.md/);
  });

  it('drops keys it does not know (a newer client stays compatible)', () => {
    expect(parseWalDeclaration(SEGMENT, { ...segment, future: true })).not.toHaveProperty('future');
  });
});

describe('declareWalFile', () => {
  it('validates a declaration once against the checked file, as parseWalDeclaration does, and keeps both as one value', () => {
    // Prepare
    const file = walFileRef('app', SEGMENT);
    // Act
    const declared = declareWalFile(file, { ...segment, future: true });
    // Assess
    expect(declared.file).toBe(file);
    expect(declared.declaration).toEqual(parseWalDeclaration(SEGMENT, segment));
    expect(codeOf(() => declareWalFile(walFileRef('app', '00000002.history'), segment))).toBe('INPUT_INVALID');
  });
});

describe('assertWalTarget', () => {
  it.each<[string, string, string]>([
    ['app', SEGMENT, 'accepted'],
    ['app', '00000002.history', 'accepted'],
    ['app', `${SEGMENT}.partial`, 'accepted'],
    ['app', `${SEGMENT}.00000028.backup`, 'accepted'],
    ['app', '0000000A00000000000000FF', 'accepted'],
    ['app', '000000010000000000001000', 'BAD_WAL_NAME'],
    ['app', '00000001000000000000000a', 'BAD_WAL_NAME'],
    ['app', '00000000000000000000000A', 'BAD_WAL_NAME'],
    ['app', `../${SEGMENT}`, 'BAD_WAL_NAME'],
    ['app', `${SEGMENT}.json`, 'BAD_WAL_NAME'],
    ['app', 'archive.json', 'BAD_WAL_NAME'],
    ['app', '', 'BAD_WAL_NAME'],
    ['../app', SEGMENT, 'INPUT_INVALID'],
    ['a/b', SEGMENT, 'INPUT_INVALID'],
    ['', SEGMENT, 'INPUT_INVALID'],
  ])('database %j, name %j → %s', (database, name, expected) => {
    expect(codeOf(() => assertWalTarget(database, name))).toBe(expected);
  });
});

describe('matchRoute', () => {
  it.each<[string, unknown]>([
    ['/v1/health', { route: 'health' }],
    ['/v1/wal/app/identity', { route: 'identity', database: 'app' }],
    [`/v1/wal/app/${SEGMENT}`, { route: 'wal', database: 'app', name: SEGMENT }],
    [`/v1/wal/my.db_2/${SEGMENT}/body`, { route: 'body', database: 'my.db_2', name: SEGMENT }],
    [`/v1/wal/app/00000002.history/complete`, { route: 'complete', database: 'app', name: '00000002.history' }],
  ])('understands %s', (target, expected) => {
    const match = matchRoute(target);
    expect(match).toMatchObject(expected as object);
    // A route naming a WAL file carries it checked, as one value: nothing below parses the name again.
    if (match.name !== undefined) expect(match.file).toEqual(walFileRef(match.database!, match.name));
    else expect(match.file).toBeUndefined();
  });

  it.each<[string, string]>([
    [`/v1/wal/app/..%2F${SEGMENT}`, 'BAD_WAL_NAME'],
    [`/v1/wal/app%2F..%2Fother/${SEGMENT}`, 'BAD_WAL_NAME'],
    [`/v1/wal/app/%30${SEGMENT.slice(1)}`, 'BAD_WAL_NAME'],
    [`/v1/wal/app/../other/${SEGMENT}`, 'BAD_WAL_NAME'],
    [`/v1/wal/app/./${SEGMENT}`, 'BAD_WAL_NAME'],
    [`//v1/wal/app/${SEGMENT}`, 'BAD_WAL_NAME'],
    [`/v1/wal//app/${SEGMENT}`, 'BAD_WAL_NAME'],
    [`/v1/wal/app/${SEGMENT}/`, 'BAD_WAL_NAME'],
    [`/v1/wal/app/${SEGMENT}?x=/../y`, 'BAD_WAL_NAME'],
    [`/v1/health?`, 'BAD_WAL_NAME'],
    [`/v1/wal/app/${SEGMENT}#frag`, 'BAD_WAL_NAME'],
    ['/v1/wal/app\\x/identity', 'BAD_WAL_NAME'],
    ['http://127.0.0.1/v1/health', 'BAD_WAL_NAME'],
    ['/v1/wal/app/not-a-wal-name', 'BAD_WAL_NAME'],
    [`/v1/wal/-app/${SEGMENT}`, 'INPUT_INVALID'],
    ['/v2/health', 'NOT_FOUND'],
    ['/v1/health/x', 'NOT_FOUND'],
    ['/v1/wal/app', 'NOT_FOUND'],
    [`/v1/wal/app/${SEGMENT}/delete`, 'NOT_FOUND'],
    [`/v1/wal/app/${SEGMENT}/body/x`, 'NOT_FOUND'],
    ['/', 'NOT_FOUND'],
  ])('refuses %s with %s', (target, code) => {
    expect(codeOf(() => matchRoute(target))).toBe(code);
  });
});

describe('errorResponse', () => {
  it.each<[ErrorCode, number]>([
    ['BAD_WAL_NAME', 400],
    ['INPUT_INVALID', 400],
    ['UNAUTHENTICATED', 401],
    ['WAL_NOT_FOUND', 404],
    ['NOT_FOUND', 404],
    ['METHOD_NOT_ALLOWED', 405],
    ['WAL_CONFLICT', 409],
    ['SYSTEM_ID_MISMATCH', 409],
    ['BODY_TOO_LARGE', 413],
    ['CHECKSUM_MISMATCH', 422],
    ['STORAGE_FAILED', 502],
    ['CATALOG_FAILED', 502],
  ] as const)('%s → %i with the error document', (code, status) => {
    expect(errorResponse(new StrongboxError(code, 'what failed', 'what to do'))).toEqual({ status, body: { error: { code, message: 'what failed', hint: 'what to do' } } });
  });

  it('answers INTERNAL for other codes, and keeps a foreign error\'s message out', () => {
    expect(errorResponse(new StrongboxError('MANIFEST_INVALID', 'record broken', 'fix it'))).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'record broken', hint: 'fix it' } } });
    const foreign = errorResponse(new Error('secret detail at /root/x'));
    expect(foreign.status).toBe(500);
    expect(JSON.stringify(foreign.body)).not.toContain('secret detail');
  });
});
