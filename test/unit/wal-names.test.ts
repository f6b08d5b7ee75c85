import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSegmentHeader, SEGMENT_HEADER_SIZE } from '../../shared/domain/wal/header';
import { archiveIdentityKey, parseWalRecordKey, walObjectKey, walPrefix, walRecordKey } from '../../shared/domain/wal/keys';
import {
  assertSegmentSize,
  DEFAULT_SEGMENT_SIZE,
  formatLsn,
  historyName,
  isWalFileName,
  parseLsn,
  parseWalName,
  segmentName,
  segmentStartLsn,
  segnoOfLsn,
} from '../../shared/domain/wal/names';
import { InputError, StrongboxError } from '../../shared/errors';
import { startTestCluster, type TestCluster } from '../support/pg';

const MiB = 1024 * 1024;
const SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024].map((n) => n * MiB);

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StrongboxError);
    expect((error as StrongboxError).hint.length).toBeGreaterThan(0);
    return (error as StrongboxError).code;
  }
  return expect.unreachable('expected a StrongboxError') as never;
}

describe('WAL file names', () => {
  it.each([
    ['000000010000000000000003', { kind: 'segment', timeline: 1, segno: 3n, segment: '000000010000000000000003' }],
    ['0000000200000001000000FF', { kind: 'segment', timeline: 2, segno: 511n, segment: '0000000200000001000000FF' }],
    ['FFFFFFFFFFFFFFFF000000FF', { kind: 'segment', timeline: 0xffffffff, segno: 0xffffffffn * 256n + 255n, segment: 'FFFFFFFFFFFFFFFF000000FF' }],
    ['0000000A.history', { kind: 'history', timeline: 10 }],
    ['000000010000000000000002.00000028.backup', { kind: 'backup', timeline: 1, segno: 2n, segment: '000000010000000000000002' }],
    ['000000020000000000000005.partial', { kind: 'partial', timeline: 2, segno: 5n, segment: '000000020000000000000005' }],
  ])('parses %s', (name, expected) => {
    expect(parseWalName(name)).toStrictEqual({ name, ...expected });
    expect(isWalFileName(name)).toBe(true);
  });

  it.each([
    ['lower-case hex', '00000001000000000000000a'],
    ['a lower-case history', '0000000a.history'],
    ['timeline 0', '000000000000000000000001'],
    ['a history of timeline 0', '00000000.history'],
    ['a path traversal', '../000000010000000000000001'],
    ['a relative path', 'pg_wal/000000010000000000000001'],
    ['an absolute path', '/000000010000000000000001'],
    ['an escaped traversal', '%2e%2e%2f000000010000000000000001'],
    ['23 digits', '00000001000000000000001'],
    ['25 digits', '0000000100000000000000011'],
    ['a trailing newline', '000000010000000000000001\n'],
    ['a leading space', ' 000000010000000000000001'],
    ['the empty string', ''],
    ['a short history', '0000001.history'],
    ['a backup label without offset', '000000010000000000000002.backup'],
    ['a partial backup label', '000000010000000000000002.partial.backup'],
    ['a temporary file', '000000010000000000000001.tmp'],
    ['a low part past 16 MiB segments', '000000010000000000000100'],
  ])('refuses %s with BAD_WAL_NAME', (_label, name) => {
    expect(codeOf(() => parseWalName(name))).toBe('BAD_WAL_NAME');
  });

  it('says what a name is, without trusting it into the message whole', () => {
    // Act
    const error = (() => {
      try {
        parseWalName(`${'A'.repeat(200)}\n`);
      } catch (e) {
        return e as StrongboxError;
      }
      return undefined;
    })();
    // Assess
    expect(error?.message.length).toBeLessThan(200);
    expect(error?.hint).toMatch(/upper-case hex/);
  });

  it('checks the low part against the segment size', () => {
    expect(parseWalName('000000010000000000000FFF', 1 * MiB).segno).toBe(0xfffn);
    expect(codeOf(() => parseWalName('000000010000000000001000', 1 * MiB))).toBe('BAD_WAL_NAME');
    expect(parseWalName('000000010000000100000003', 1024 * MiB).segno).toBe(7n);
    expect(codeOf(() => parseWalName('000000010000000000000004', 1024 * MiB))).toBe('BAD_WAL_NAME');
    expect(isWalFileName('000000010000000000001000')).toBe(true);
  });

  it('round trips segment numbers for every segment size', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SIZES), fc.integer({ min: 1, max: 0xffffffff }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (size, timeline, lsn) => {
        // Prepare
        const segno = segnoOfLsn(lsn, size);
        // Act
        const name = segmentName(timeline, segno, size);
        const parsed = parseWalName(name, size);
        // Assess
        expect(name).toMatch(/^[0-9A-F]{24}$/);
        expect(parsed).toStrictEqual({ name, kind: 'segment', timeline, segno, segment: name });
        expect(segmentStartLsn(segno, size) <= lsn && lsn < segmentStartLsn(segno + 1n, size)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('names segments as PostgreSQL does (pg_walfile_name)', () => {
    expect(segmentName(1, segnoOfLsn(parseLsn('0/16B3748')))).toBe('000000010000000000000001');
    expect(segmentName(3, segnoOfLsn(parseLsn('1/2000000')))).toBe('000000030000000100000002');
    expect(segmentName(1, segnoOfLsn(parseLsn('1/2000000'), 64 * MiB), 64 * MiB)).toBe('000000010000000100000000');
    expect(historyName(2)).toBe('00000002.history');
    expect(historyName(0x1f)).toBe('0000001F.history');
  });

  it.each([0, 512 * 1024, 3 * MiB, 2048 * MiB, 16.5 * MiB, Number.NaN])('refuses a segment size of %d bytes', (size) => {
    expect(() => assertSegmentSize(size)).toThrow(InputError);
    expect(() => segmentName(1, 1n, size)).toThrow(InputError);
  });

  it('accepts every segment size initdb allows', () => {
    for (const size of SIZES) expect(() => assertSegmentSize(size)).not.toThrow();
    expect(DEFAULT_SEGMENT_SIZE).toBe(16 * MiB);
  });
});

describe('LSNs', () => {
  it.each([
    ['0/0', 0n],
    ['0/16B3748', 0x16b3748n],
    ['16/B374D848', (0x16n << 32n) | 0xb374d848n],
    ['FFFFFFFF/FFFFFFFF', (1n << 64n) - 1n],
  ])('parses and prints %s', (text, lsn) => {
    expect(parseLsn(text)).toBe(lsn);
    expect(formatLsn(lsn)).toBe(text);
  });

  it('accepts lower case, leading zeros and surrounding spaces, and prints PostgreSQL\'s form', () => {
    expect(formatLsn(parseLsn(' 00000000/016b3748 '))).toBe('0/16B3748');
  });

  it.each(['', '16B3748', '0/', '/0', '1/2/3', '123456789/0', '0/123456789', '0x1/0', '-1/0', 'G/0'])('refuses %j with BAD_LSN', (text) => {
    expect(codeOf(() => parseLsn(text))).toBe('BAD_LSN');
  });

  it('round trips every 64-bit LSN', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (lsn) => {
        expect(parseLsn(formatLsn(lsn))).toBe(lsn);
      }),
    );
  });

  it('puts a segment\'s first and last bytes in that segment', () => {
    for (const size of SIZES) {
      const start = segmentStartLsn(5n, size);
      expect(segnoOfLsn(start, size)).toBe(5n);
      expect(segnoOfLsn(start - 1n, size)).toBe(4n);
      expect(segnoOfLsn(start + BigInt(size) - 1n, size)).toBe(5n);
    }
  });
});

describe('WAL storage keys', () => {
  it.each([
    ['000000010000000000000003', 'zstd', 'wal/app/0000000100000000/000000010000000000000003.zst'],
    ['0000000200000001000000FF', 'gzip', 'wal/app/0000000200000001/0000000200000001000000FF.gz'],
    ['000000010000000000000002.00000028.backup', 'none', 'wal/app/0000000100000000/000000010000000000000002.00000028.backup'],
    ['000000020000000000000005.partial', 'zstd', 'wal/app/0000000200000000/000000020000000000000005.partial.zst'],
    ['00000002.history', 'none', 'wal/app/history/00000002.history'],
  ] as const)('keeps %s at its place', (name, compression, key) => {
    // Act
    const objectKey = walObjectKey('app', name, compression);
    const recordKey = walRecordKey('app', name);
    // Assess
    expect(objectKey).toBe(key);
    expect(recordKey).toBe(`${key.slice(0, key.lastIndexOf('/') + 1)}${name}.json`);
    expect(parseWalRecordKey(recordKey)).toStrictEqual({ database: 'app', name });
  });

  it('puts the identity and every file under the database prefix', () => {
    expect(walPrefix('app-1.eu')).toBe('wal/app-1.eu/');
    expect(archiveIdentityKey('app')).toBe('wal/app/archive.json');
  });

  it.each(['../app', 'a/b', '', '.hidden', 'x'.repeat(64)])('refuses the database name %j', (database) => {
    expect(() => walPrefix(database)).toThrow(InputError);
    expect(() => walObjectKey(database, '000000010000000000000003', 'none')).toThrow(InputError);
  });

  it('refuses a bad name before building a key', () => {
    expect(codeOf(() => walObjectKey('app', '../000000010000000000000003', 'none'))).toBe('BAD_WAL_NAME');
    expect(codeOf(() => walRecordKey('app', '00000001000000000000000a'))).toBe('BAD_WAL_NAME');
  });

  it.each([
    ['the archive identity', 'wal/app/archive.json'],
    ['a segment\'s bytes', 'wal/app/0000000100000000/000000010000000000000003.zst'],
    ['a record in another group\'s folder', 'wal/app/0000000100000001/000000010000000000000003.json'],
    ['a history record among segments', 'wal/app/0000000100000000/00000002.history.json'],
    ['a segment record among histories', 'wal/app/history/000000010000000000000003.json'],
    ['a lower-case folder', 'wal/app/000000010000000a/00000001000000000000000A.json'],
    ['a traversal in the database', 'wal/../0000000100000000/000000010000000000000003.json'],
    ['a nested path', 'wal/app/x/0000000100000000/000000010000000000000003.json'],
    ['a record of a record', 'wal/app/0000000100000000/000000010000000000000003.json.json'],
    ['a backup manifest', 'logical/daily/app/20260301T030000Z-l-abcdef/manifest.json'],
    ['a bad database name', 'wal/.x/0000000100000000/000000010000000000000003.json'],
  ])('does not take %s for a record key', (_label, key) => {
    expect(parseWalRecordKey(key)).toBeUndefined();
  });
});

/** A long page header as PostgreSQL lays it out (little-endian). */
function header(fields: { magic?: number; info?: number; timeline?: number; pageAddress?: bigint; systemId?: bigint; segmentSize?: number; blockSize?: number } = {}): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, fields.magic ?? 0xd110, true);
  view.setUint16(2, fields.info ?? 0x0002, true);
  view.setUint32(4, fields.timeline ?? 1, true);
  view.setBigUint64(8, fields.pageAddress ?? 0x3000000n, true);
  view.setBigUint64(24, fields.systemId ?? 7311234567890123456n, true);
  view.setUint32(32, fields.segmentSize ?? 16 * MiB, true);
  view.setUint32(36, fields.blockSize ?? 8192, true);
  return bytes;
}

describe('segment headers', () => {
  it('reads a header built by hand, also from inside a larger buffer', () => {
    // Prepare
    const inner = header({ magic: 0xd113, timeline: 3, pageAddress: 0x1_0000_0000n, systemId: 18446744073709551615n, segmentSize: 64 * MiB });
    const outer = new Uint8Array(100);
    outer.set(inner, 13);
    // Act
    const parsed = parseSegmentHeader(outer.subarray(13));
    // Assess
    expect(parsed).toStrictEqual({ magic: 0xd113, pgVersion: 16, timeline: 3, pageAddress: 0x1_0000_0000n, systemId: '18446744073709551615', segmentSize: 64 * MiB, blockSize: 8192 });
  });

  it('leaves the version out for a magic it does not know', () => {
    expect(parseSegmentHeader(header({ magic: 0xd0ff })).pgVersion).toBeUndefined();
  });

  it.each([
    ['a short buffer', header().subarray(0, SEGMENT_HEADER_SIZE - 1), /only 39 bytes/],
    ['an empty buffer', new Uint8Array(0), /only 0 bytes/],
    ['a wrong magic', header({ magic: 0x1234 }), /magic 0x1234/],
    ['a short page header', header({ info: 0x0001 }), /no long header/],
    ['a segment size that is no power of two', header({ segmentSize: 3 * MiB }), /segment size/],
    ['a segment size under 1 MiB', header({ segmentSize: 512 * 1024 }), /segment size/],
    ['text', new TextEncoder().encode('this is not a WAL segment at all, honest!'), /not PostgreSQL's|no long header/],
  ])('refuses %s with WAL_HEADER_INVALID', (_label, bytes, message) => {
    // Act
    const code = codeOf(() => parseSegmentHeader(bytes));
    // Assess
    expect(code).toBe('WAL_HEADER_INVALID');
    expect(() => parseSegmentHeader(bytes)).toThrow(message);
  });

  describe('of a real segment', () => {
    let pg: TestCluster;

    beforeAll(async () => {
      pg = await startTestCluster();
    });

    afterAll(async () => {
      await pg?.stop();
    });

    it('names the cluster, version, timeline and position PostgreSQL reports', async () => {
      // Prepare
      const [name, lsn, systemId, segmentSize] = (
        await pg.cluster.psql("SELECT pg_walfile_name(pg_current_wal_lsn()), pg_current_wal_lsn(), system_identifier, current_setting('wal_segment_size') FROM pg_control_system();")
      )
        .trim()
        .split('|');
      const bytes = await readFile(join(pg.cluster.dataDir, 'pg_wal', name!));
      // Act
      const parsed = parseSegmentHeader(bytes);
      // Assess
      expect(segmentSize).toBe('16MB');
      expect(bytes.length).toBe(16 * MiB);
      expect(parsed.systemId).toBe(systemId);
      expect(parsed.pgVersion).toBe(15);
      expect(parsed.timeline).toBe(1);
      expect(parsed.segmentSize).toBe(16 * MiB);
      expect(parsed.blockSize).toBe(8192);
      expect(parsed.pageAddress).toBe(segmentStartLsn(parseWalName(name!).segno!));
      expect(segmentName(parsed.timeline, segnoOfLsn(parsed.pageAddress))).toBe(name);
      expect(segnoOfLsn(parseLsn(lsn!))).toBe(parseWalName(name!).segno);
    });
  });
});
