import { describe, expect, it } from 'vitest';
import { assertDatabaseName, backupId, backupKeys, isBackupId, isManifestKey } from '../../../shared/domain/keys';
import { entryFromManifest, MANIFEST_FORMAT_VERSION, parseManifest, serializeManifest, type Manifest } from '../../../shared/domain/manifest';

describe('backup ids and keys', () => {
  it('derives the same id from the same seed and time, another from another seed', () => {
    const at = new Date('2026-11-24T03:00:00Z');
    expect(backupId('logical', at, 'app@x')).toBe(backupId('logical', at, 'app@x'));
    expect(backupId('logical', at, 'app@x')).not.toBe(backupId('logical', at, 'app@y'));
    expect(backupId('logical', at, 'seed')).toMatch(/^20261124T030000Z-l-[0-9a-f]{6}$/);
    expect(isBackupId(backupId('base', at, 'seed'))).toBe(true);
    expect(isBackupId('../../etc')).toBe(false);
  });

  it('lays keys out as kind/tier/database/id so that lifecycle rules can act on a tier', () => {
    const keys = backupKeys('logical', 'monthly', 'app', '20261101T030000Z-l-abcdef', 'zstd');
    expect(keys).toEqual({
      prefix: 'logical/monthly/app/20261101T030000Z-l-abcdef/',
      dump: 'logical/monthly/app/20261101T030000Z-l-abcdef/dump.zst',
      globals: 'logical/monthly/app/20261101T030000Z-l-abcdef/globals.sql',
      manifest: 'logical/monthly/app/20261101T030000Z-l-abcdef/manifest.json',
    });
    expect(isManifestKey(keys.manifest)).toBe(true);
    expect(isManifestKey(keys.dump)).toBe(false);
    expect(isManifestKey('logical/monthly/app/manifest.json')).toBe(false);
  });

  it.each(['', '../x', 'a/b', 'x'.repeat(64), 'with space', '-dash-first'])('refuses database name %j', (name) => {
    expect(() => assertDatabaseName(name)).toThrowError(expect.objectContaining({ code: 'INPUT_INVALID' }));
  });
});

const manifest: Manifest = {
  formatVersion: MANIFEST_FORMAT_VERSION,
  id: '20261124T030000Z-l-abcdef',
  database: 'app',
  kind: 'logical',
  tier: 'daily',
  scope: 'full',
  compression: 'gzip',
  startedAt: '2026-11-24T03:00:00.000Z',
  finishedAt: '2026-11-24T03:00:05.000Z',
  source: { pgDatabase: 'app', serverVersion: '15.18', serverVersionNum: 150018, systemIdentifier: '7311', walLsn: '0/1000000', databaseSizeBytes: 1000 },
  tools: { strongbox: '0.1.0', pgDump: '15.18' },
  tables: [{ schema: 'public', name: 't', rows: 3 }],
  objects: {
    dump: { key: 'logical/daily/app/20261124T030000Z-l-abcdef/dump', bytes: 10, sha256: 'a'.repeat(64) },
    globals: { key: 'logical/daily/app/20261124T030000Z-l-abcdef/globals.sql', bytes: 5, sha256: 'b'.repeat(64), includesRolePasswords: false },
  },
};

describe('manifest', () => {
  it('round-trips and becomes an UPLOADED catalog entry', () => {
    const parsed = parseManifest(serializeManifest(manifest), 'k');
    expect(parsed).toEqual(manifest);
    const entry = entryFromManifest(parsed, 'logical/daily/app/20261124T030000Z-l-abcdef/manifest.json');
    expect(entry).toMatchObject({ id: manifest.id, state: 'UPLOADED', bytes: 15, sha256: 'a'.repeat(64), globalsKey: manifest.objects.globals!.key });
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['unknown format version', JSON.stringify({ ...manifest, formatVersion: 2 }), /format version 2/],
    ['missing fields', JSON.stringify({ formatVersion: 1, id: 'x' }), /database/],
    ['bad checksum', JSON.stringify({ ...manifest, objects: { dump: { ...manifest.objects.dump, sha256: 'nope' } } }), /objects\.dump\.sha256/],
  ])('refuses %s with MANIFEST_INVALID naming the key', (_name, text, detail) => {
    expect(() => parseManifest(text, 'the/key')).toThrowError(expect.objectContaining({ code: 'MANIFEST_INVALID', message: expect.stringMatching(detail) }));
    expect(() => parseManifest(text, 'the/key')).toThrowError(/the\/key/);
  });
});
