import { describe, expect, it } from 'vitest';
import { baseBackupInfo, parseBackupLabel, parseWalRanges, systemIdFromPgControl, type BaseTarFacts } from '../../shared/domain/base-manifest';
import { parseManifest, serializeManifest, entryFromManifest, type Manifest } from '../../shared/domain/manifest';

const LABEL = `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
CHECKPOINT LOCATION: 0/2000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-11-24 04:57:52 UTC
LABEL: strongbox-20261124T045752Z-b-abc123
START TIMELINE: 1
`;

function manifestTail(ranges: string): string {
  return `{ "Path": "global/pg_control", "Size": 8192 }\n],\n"WAL-Ranges": [\n${ranges}\n],\n"Manifest-Checksum": "46c1"}\n`;
}

function pgControl(systemId: bigint): Uint8Array {
  const head = Buffer.alloc(16);
  head.writeBigUInt64LE(systemId, 0);
  return head;
}

function facts(overrides: Partial<BaseTarFacts> = {}): BaseTarFacts {
  return {
    label: LABEL,
    manifestTail: manifestTail('{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }'),
    pgControlHead: pgControl(7711597723415616982n),
    names: ['backup_label', 'base/1/1259', 'pg_wal/000000010000000000000002', 'backup_manifest'],
    ...overrides,
  };
}

describe('backup_label, WAL-Ranges and pg_control', () => {
  it('parses the label', () => {
    expect(parseBackupLabel(LABEL)).toEqual({ startLsn: '0/2000028', checkpointLsn: '0/2000060', timeline: 1, from: 'primary', label: 'strongbox-20261124T045752Z-b-abc123' });
  });

  it('refuses a label without its start', () => {
    expect(() => parseBackupLabel('LABEL: x\n')).toThrow(expect.objectContaining({ code: 'BASE_BACKUP_INVALID' }));
  });

  it('reads the WAL ranges from the manifest\'s tail alone', () => {
    const tail = manifestTail('{ "Timeline": 2, "Start-LSN": "0/5000000", "End-LSN": "0/5000100" },\n{ "Timeline": 1, "Start-LSN": "0/4FFFF00", "End-LSN": "0/5000000" }');
    expect(parseWalRanges(tail.slice(30))).toEqual([
      { timeline: 2, startLsn: '0/5000000', endLsn: '0/5000100' },
      { timeline: 1, startLsn: '0/4FFFF00', endLsn: '0/5000000' },
    ]);
    expect(() => parseWalRanges('{"Files": []}')).toThrow(expect.objectContaining({ code: 'BASE_BACKUP_INVALID' }));
  });

  it('reads the system identifier from pg_control', () => {
    expect(systemIdFromPgControl(pgControl(7311234567890123456n))).toBe('7311234567890123456');
    expect(() => systemIdFromPgControl(new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'BASE_BACKUP_INVALID' }));
  });
});

describe('baseBackupInfo', () => {
  it('a backup within one segment on one timeline', () => {
    expect(baseBackupInfo(facts(), { pgVersion: 15, expectedSystemId: '7711597723415616982' })).toEqual({
      startLsn: '0/2000028',
      stopLsn: '0/2000100',
      timeline: 1,
      stopTimeline: 1,
      systemId: '7711597723415616982',
      pgVersion: 15,
      walSegments: { first: '000000010000000000000002', last: '000000010000000000000002' },
      label: LABEL,
      walIncluded: true,
    });
  });

  it.each([
    // stop LSN exactly at a segment boundary: the last byte needed is in the segment before
    ['0/4000000', '000000010000000000000003', ['pg_wal/000000010000000000000002', 'pg_wal/000000010000000000000003']],
    ['0/4000001', '000000010000000000000004', ['pg_wal/000000010000000000000002', 'pg_wal/000000010000000000000003', 'pg_wal/000000010000000000000004']],
  ])('stop at %s ends with segment %s', (stop, last, walNames) => {
    const info = baseBackupInfo(facts({ manifestTail: manifestTail(`{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "${stop}" }`), names: walNames }), { pgVersion: 15 });
    expect(info.walSegments).toEqual({ first: '000000010000000000000002', last });
    expect(info.walIncluded).toBe(true);
  });

  it('a standby promoted during the backup: the stop timeline is the newer one', () => {
    const tail = manifestTail('{ "Timeline": 2, "Start-LSN": "0/3000000", "End-LSN": "0/3000200" },\n{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/3000000" }');
    const info = baseBackupInfo(facts({ manifestTail: tail, names: ['pg_wal/000000010000000000000002', 'pg_wal/000000020000000000000003'] }), { pgVersion: 15 });
    expect(info).toMatchObject({ timeline: 1, stopTimeline: 2, stopLsn: '0/3000200', walSegments: { first: '000000010000000000000002', last: '000000020000000000000003' }, walIncluded: true });
  });

  it('walIncluded is false when a needed segment is not in the tar', () => {
    const info = baseBackupInfo(facts({ manifestTail: manifestTail('{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/4000100" }') }), { pgVersion: 15 });
    expect(info.walIncluded).toBe(false);
  });

  it('refuses a label and manifest that disagree, and another cluster\'s pg_control', () => {
    const other = manifestTail('{ "Timeline": 1, "Start-LSN": "0/9000028", "End-LSN": "0/9000100" }');
    expect(() => baseBackupInfo(facts({ manifestTail: other }), { pgVersion: 15 })).toThrow(/starts at 0\/2000028/);
    expect(() => baseBackupInfo(facts(), { pgVersion: 15, expectedSystemId: '1' })).toThrow(expect.objectContaining({ code: 'BASE_BACKUP_INVALID' }));
    expect(() => baseBackupInfo(facts({ label: '' }), { pgVersion: 15 })).toThrow(expect.objectContaining({ code: 'BASE_BACKUP_INVALID' }));
  });
});

describe('the manifest of a base backup', () => {
  const base = baseBackupInfo(facts(), { pgVersion: 15 });
  const manifest: Manifest = {
    formatVersion: 1,
    id: '20261124T045752Z-b-abc123',
    database: 'app',
    kind: 'base',
    tier: 'daily',
    scope: 'full',
    compression: 'none',
    startedAt: '2026-11-24T04:57:52.000Z',
    finishedAt: '2026-11-24T04:57:53.000Z',
    source: { pgDatabase: 'app', serverVersion: '15.10', serverVersionNum: 150010, systemIdentifier: base.systemId, walLsn: base.startLsn, databaseSizeBytes: 1 },
    tools: { strongbox: '0.1.0', pgBasebackup: '15.10' },
    tables: [],
    objects: { dump: { key: 'base/daily/app/20261124T045752Z-b-abc123/dump', bytes: 10, sha256: 'a'.repeat(64) } },
    base,
  };

  it('round-trips and gives the catalog entry its base part', () => {
    const parsed = parseManifest(serializeManifest(manifest), 'm');
    expect(parsed).toEqual(manifest);
    expect(entryFromManifest(parsed, 'm')).toMatchObject({ kind: 'base', compression: 'none', base });
  });

  it.each([
    ['without its base part', { ...manifest, base: undefined }, /base/],
    ['with gzip', { ...manifest, compression: 'gzip' }, /compression/],
    ['a logical one with a base part', { ...manifest, kind: 'logical', tools: { strongbox: '0.1.0', pgDump: '15' } }, /only a base backup/],
    ['a logical one without pg_dump', { ...manifest, kind: 'logical', base: undefined, compression: 'zstd' }, /pgDump/],
  ])('is refused %s', (_what, bad, message) => {
    expect(() => parseManifest(JSON.stringify(bad), 'm')).toThrow(message);
  });
});
