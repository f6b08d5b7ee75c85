import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/domain/manifest';
import { compareAtInstant } from '../../shared/usecases/pitr-drill/compare';

const tables: Manifest['tables'] = [
  { schema: 'public', name: 'a', rows: 3, checksum: 'v1:aa' },
  { schema: 'public', name: 'b', rows: 5, checksum: 'v1:bb' },
  { schema: 'public', name: 'big', rows: 9000, estimate: true },
  { schema: 'public', name: 'old', rows: 2 },
];

const digests = new Map([
  ['"public"."a"', { rows: 3, checksum: 'v1:aa' }],
  ['"public"."b"', { rows: 5, checksum: 'v1:bb' }],
  ['"public"."old"', { rows: 2, checksum: 'v1:00' }],
]);

describe('the physical drill\'s comparison', () => {
  it('an exact instant: equal tables compared (one by rows only: no checksum in its manifest), the estimate named, nothing different', () => {
    const result = compareAtInstant(tables, { digests, extra: [] });
    expect(result.differences).toEqual([]);
    expect(result.compared).toBe(3);
    expect(result.rows).toBe(10);
    expect(result.rowsOnly).toEqual(['"public"."old"']);
    expect(result.notCompared).toEqual([{ table: '"public"."big"', why: expect.stringContaining('estimate') }]);
  });

  it('rows, contents, a missing table and a table not in the backup are differences', () => {
    const changed = new Map(digests);
    changed.set('"public"."a"', { rows: 4, checksum: 'v1:aa' });
    changed.set('"public"."b"', { rows: 5, checksum: 'v1:b0' });
    changed.delete('"public"."old"');
    const result = compareAtInstant(tables, { digests: changed, extra: ['"public"."new"'] });
    expect(result.differences).toEqual([
      '"public"."a" has 4 rows in the recovered cluster, the backup 3',
      '"public"."b" has the same 5 rows but other contents (checksum v1:b0, the backup v1:bb)',
      '"public"."old" is missing from the recovered cluster',
      '"public"."new" is in the recovered cluster but not in the backup',
    ]);
    expect(result.compared).toBe(0);
  });

  it('the bounds: a table changed between them is named, never a difference; `all` names every table with the reason', () => {
    const changed = new Map(digests);
    changed.set('"public"."a"', { rows: 4, checksum: 'v1:a4' });
    const some = compareAtInstant(tables, { digests: changed, extra: [], unsettled: new Set(['"public"."a"']) });
    expect(some.differences).toEqual([]);
    expect(some.notCompared[0]).toEqual({ table: '"public"."a"', why: expect.stringContaining('changed between the LSNs') });
    const all = compareAtInstant(tables, { digests: changed, extra: ['"public"."x"'], unsettled: 'all', unsettledReason: 'because' });
    expect(all.differences).toEqual([]);
    expect(all.compared).toBe(0);
    expect(all.notCompared.filter((n) => n.why === 'because')).toHaveLength(3);
  });
});
