import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { declaredObjects, entryFromManifest, parseManifest, serializeManifest, type Manifest } from '../../../shared/domain/manifest';
import { dataParts, partHolding, postDataPart, PARTS_FORMAT_VERSION, schemaPart } from '../../../shared/domain/manifest-parts';
import { entryProblem } from '../../../shared/domain/retention/entry-check';

const id = '20261205T030000Z-l-abcdef';
const prefix = `logical/daily/app/${id}/`;
const sha = (c: string) => c.repeat(64);

const manifest: Manifest = {
  formatVersion: PARTS_FORMAT_VERSION,
  id,
  database: 'app',
  kind: 'logical',
  tier: 'daily',
  scope: 'full',
  compression: 'gzip',
  startedAt: '2026-12-05T03:00:00.000Z',
  finishedAt: '2026-12-05T03:10:00.000Z',
  source: { pgDatabase: 'app', serverVersion: '15.18', serverVersionNum: 150018, systemIdentifier: '7311', walLsn: '0/1000000', databaseSizeBytes: 1000 },
  tools: { strongbox: '0.1.0', pgDump: '15.18' },
  tables: [{ schema: 'public', name: 'big', rows: 3 }, { schema: 'public', name: 'small', rows: 1 }],
  objects: {
    dump: { key: `${prefix}pre-data.dump`, bytes: 10, sha256: sha('a') },
    globals: { key: `${prefix}globals.sql`, bytes: 5, sha256: sha('b'), includesRolePasswords: false },
    parts: [
      { section: 'data', key: `${prefix}data-01.dump`, bytes: 100, sha256: sha('c'), rest: true },
      { section: 'data', key: `${prefix}data-02.dump`, bytes: 200, sha256: sha('d'), tables: [{ schema: 'public', name: 'big' }] },
      { section: 'post-data', key: `${prefix}post-data.dump`, bytes: 20, sha256: sha('e') },
    ],
  },
};

const refused = (changed: unknown, detail: RegExp) => expect(() => parseManifest(JSON.stringify(changed), 'k')).toThrowError(expect.objectContaining({ code: 'MANIFEST_INVALID', message: expect.stringMatching(detail) }));

describe('a parallel backup\'s manifest', () => {
  it('round-trips, declares every part for verification, and is one entry counting every byte with its part keys', () => {
    expect(parseManifest(serializeManifest(manifest), 'k')).toEqual(manifest);
    expect(declaredObjects(manifest).map((o) => o.key.slice(prefix.length))).toEqual(['pre-data.dump', 'globals.sql', 'data-01.dump', 'data-02.dump', 'post-data.dump']);
    const entry = entryFromManifest(manifest, `${prefix}manifest.json`);
    expect(entry).toMatchObject({ key: `${prefix}pre-data.dump`, bytes: 335, partKeys: [`${prefix}data-01.dump`, `${prefix}data-02.dump`, `${prefix}post-data.dump`] });
  });

  it('says which data part holds a table: the one listing it, else the rest part', () => {
    expect(partHolding(manifest, { schema: 'public', name: 'big' })?.key).toBe(`${prefix}data-02.dump`);
    expect(partHolding(manifest, { schema: 'public', name: 'small' })?.key).toBe(`${prefix}data-01.dump`);
    expect(dataParts(manifest)).toHaveLength(2);
    expect(postDataPart(manifest)?.section).toBe('post-data');
  });

  it('refuses parts under format version 1 (an older reader would restore only the schema), and version 2 without parts', () => {
    refused({ ...manifest, formatVersion: 1 }, /format version 2/);
    refused({ ...manifest, objects: { dump: manifest.objects.dump } }, /format version 2 is for a backup with parts/);
  });

  it('refuses parts that cannot be restored: no rest part or two, a listed part without tables, post-data not last, a key twice, a table backup', () => {
    const parts = manifest.objects.parts!;
    const withParts = (list: unknown[], extra: object = {}) => ({ ...manifest, ...extra, objects: { ...manifest.objects, parts: list } });
    refused(withParts([{ ...parts[1] }, parts[2]]), /exactly one data part is the rest part/);
    refused(withParts([parts[0], { ...parts[1], rest: true, tables: undefined }, parts[2]]), /exactly one data part is the rest part/);
    refused(withParts([parts[0], { ...parts[1], tables: [] }, parts[2]]), /names its tables/);
    refused(withParts([parts[2], parts[0], parts[1]]), /post-data part comes once, after the data parts/);
    refused(withParts([parts[0], { ...parts[1], key: parts[0]!.key }, parts[2]]), /its own key/);
    refused(withParts(parts, { scope: 'tables' }), /only a full logical backup has parts/);
  });
});

describe('the schema part (restore-table --mode recreate reads it; a restore does not)', () => {
  const schema = { section: 'schema' as const, key: `${prefix}schema.dump`, bytes: 30, sha256: sha('f') };
  const withSchema: Manifest = { ...manifest, objects: { ...manifest.objects, parts: [...manifest.objects.parts!, schema] } };
  const withParts = (list: unknown[]) => ({ ...manifest, objects: { ...manifest.objects, parts: list } });

  it('comes last, once; is verified and deleted with the others; a backup written before it has none', () => {
    expect(parseManifest(serializeManifest(withSchema), 'k')).toEqual(withSchema);
    expect(schemaPart(withSchema)?.key).toBe(`${prefix}schema.dump`);
    expect(schemaPart(manifest)).toBeUndefined();
    expect(postDataPart(withSchema)?.section).toBe('post-data');
    expect(declaredObjects(withSchema).map((o) => o.key.slice(prefix.length))).toContain('schema.dump');
    expect(entryFromManifest(withSchema, `${prefix}manifest.json`).partKeys).toContain(`${prefix}schema.dump`);
    const parts = manifest.objects.parts!;
    refused(withParts([parts[0], parts[1], schema, parts[2]]), /schema part comes at most once, last/);
    refused(withParts([...parts, schema, { ...schema, key: `${prefix}schema2.dump` }]), /schema part comes at most once, last/);
  });
});

describe('retention trusts a parallel backup\'s part keys only inside its folder', () => {
  const entry = { ...entryFromManifest(manifest, `${prefix}manifest.json`), state: 'VERIFIED' } as BackupEntry;
  it('accepts its own parts', () => {
    expect(entryProblem(entry)).toBeUndefined();
  });
  it('refuses a part key elsewhere, or partKeys that is not a list of keys', () => {
    expect(entryProblem({ ...entry, partKeys: [`logical/daily/app/20261204T030000Z-l-fedcba/data-01.dump`] })).toMatch(/partKeys\[0\].*outside its folder/);
    expect(entryProblem({ ...entry, partKeys: 'x' as unknown as string[] })).toMatch(/partKeys is not a list/);
    expect(entryProblem({ ...entry, partKeys: [7 as unknown as string] })).toMatch(/partKeys\[0\] is not a key/);
  });
});
