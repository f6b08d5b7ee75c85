import { describe, expect, it } from 'vitest';
import type { TableCount } from '../../../shared/ports/postgres';
import type { BackupEntry } from '../../../shared/domain/backup';
import { nearMatches } from '../../../shared/domain/restore-table-match';
import { chooseTableBackup, isLeftoverScratch, planRestoreTable, type RestoreTablePlanInput } from '../../../shared/domain/restore-table-plan';

const NOW = new Date('2026-03-04T05:06:07.890Z');
const STAMP = '20260304050607';

function entry(id: string, overrides: Partial<BackupEntry> = {}): BackupEntry {
  return {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: `logical/daily/app/${id}/dump`,
    manifestKey: `logical/daily/app/${id}/manifest.json`,
    compression: 'gzip',
    startedAt: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}.000Z`,
    heartbeatAt: '2026-03-01T03:00:00.000Z',
    ...overrides,
  };
}

const OLD = entry('20260301T030000Z-l-aaaaaa');
const NEWER = entry('20260302T030000Z-l-bbbbbb');
const FAILED = entry('20260303T030000Z-l-cccccc', { state: 'FAILED', reason: 'checksum' });
const TABLES = entry('20260303T040000Z-l-dddddd', { scope: 'tables', tables: ['public.t'] });
const RUNNING = entry('20260303T060000Z-l-ffffff', { state: 'RUNNING' });
const BASE = entry('20260303T070000Z-b-111111', { kind: 'base' });
const OTHER_DB = entry('20260303T080000Z-l-222222', { database: 'billing' });
const CATALOG = [OTHER_DB, BASE, RUNNING, TABLES, FAILED, NEWER, OLD];

const MANIFEST_TABLES: TableCount[] = [
  { schema: 'public', name: 'customers', rows: 10 },
  { schema: 'public', name: 'customer_tags', rows: 3 },
  { schema: 'Sales', name: 'orders', rows: 20 },
  { schema: 'archive', name: 'orders', rows: 5 },
  { schema: 'inventory', name: 'Items', rows: 120 },
  { schema: 'public', name: 'events_2024_01', rows: 7 },
  { schema: 'public', name: 'events_2024_02', rows: 8 },
  { schema: 'public', name: 'weird.name "x"', rows: 1 },
];

function input(overrides: Partial<RestoreTablePlanInput> = {}): RestoreTablePlanInput {
  return {
    backup: NEWER,
    manifestTables: MANIFEST_TABLES,
    pgDatabase: 'app_prod',
    pattern: 'public.customers',
    mode: 'replace',
    target: { database: 'app', redacted: 'postgresql://admin@db:5432/app' },
    now: NOW,
    nonce: 'a1b2c3d4',
    ...overrides,
  };
}

describe('chooseTableBackup', () => {
  it.each([
    ['latest: the newest VERIFIED full logical backup', { backupId: 'latest' }, NEWER.id],
    ['an explicit VERIFIED id', { backupId: OLD.id }, OLD.id],
    ['a table-level backup by id', { backupId: TABLES.id }, TABLES.id],
    ['a FAILED backup with force', { backupId: FAILED.id, force: true }, FAILED.id],
  ])('%s', (_name, overrides, expected) => {
    expect(chooseTableBackup({ entries: CATALOG, database: 'app', force: false, ...overrides }).id).toBe(expected);
  });

  it.each([
    ['latest with no backup of the database', { backupId: 'latest', database: 'nobody' }, 'BACKUP_NOT_FOUND', 'no VERIFIED full logical backup of database "nobody"'],
    ['a malformed id', { backupId: 'yesterday' }, 'INPUT_INVALID', '"yesterday" is neither a backup id nor "latest"'],
    ['an unknown id', { backupId: '20250101T000000Z-l-000000' }, 'BACKUP_NOT_FOUND', 'no backup with id 20250101T000000Z-l-000000'],
    ['a FAILED backup without force', { backupId: FAILED.id }, 'INPUT_INVALID', `backup ${FAILED.id} is FAILED, not VERIFIED (checksum)`],
    ['a RUNNING backup, even with force', { backupId: RUNNING.id, force: true }, 'INPUT_INVALID', 'is still RUNNING'],
    ['a base backup', { backupId: BASE.id }, 'INPUT_INVALID', 'is a base backup'],
    ['a backup of another database', { backupId: OTHER_DB.id }, 'INPUT_INVALID', 'is of database "billing", not "app"'],
  ])('refuses %s', (_name, overrides, code, message) => {
    expect(() => chooseTableBackup({ entries: CATALOG, database: 'app', force: false, ...overrides })).toThrow(expect.objectContaining({ code, message: expect.stringContaining(message) }));
  });
});

describe('planRestoreTable', () => {
  it('replace: the table, its rows, the scratch database and the steps', () => {
    const plan = planRestoreTable(input());

    expect(plan).toMatchObject({
      database: 'app',
      mode: 'replace',
      tables: [{ schema: 'public', name: 'customers', rows: 10, into: { schema: 'public', name: 'customers' } }],
      scratch: `strongbox_scratch_${STAMP}_a1b2c3d4`,
      warnings: [],
    });
    expect(plan.steps[0]).toBe('drop leftover scratch databases of killed table restores (strongbox_scratch_<timestamp>_<random>, older and not in use) on postgresql://admin@db:5432/app');
    expect(plan.steps[2]).toBe('check that the archive\'s table of contents (pg_restore --list) holds "public"."customers" (10 rows)');
    expect(plan.steps[5]).toMatch(/^in ONE transaction in database "app": lock "public"\."customers" against writes/);
    expect(plan.steps.at(-1)).toMatch(/^drop "strongbox_scratch_20260304050607_a1b2c3d4" \(also when anything fails\)/);
  });

  it('side-by-side: <table>_restored_<ts> in the same schema, clipped to 63 bytes', () => {
    const long = 'a'.repeat(60);
    const plan = planRestoreTable(input({ mode: 'side-by-side', pattern: `public.${long}`, manifestTables: [{ schema: 'public', name: long, rows: 1 }] }));
    const short = planRestoreTable(input({ mode: 'side-by-side', pattern: '"Sales".orders' }));

    expect(short.tables[0]?.into).toEqual({ schema: 'Sales', name: `orders_restored_${STAMP}` });
    const into = plan.tables[0]?.into.name ?? '';
    expect(Buffer.byteLength(into)).toBeLessThanOrEqual(63);
    expect(into).toMatch(new RegExp(`^a+_[0-9a-f]{6}_restored_${STAMP}$`));
    expect(short.steps[5]).toContain('the original tables are not touched');
  });

  it.each([
    ['a quoted mixed-case name', 'inventory."Items"', ['inventory.Items']],
    ['unquoted letters fold to lower case (no match for Items)', '"Sales".ORDERS', ['Sales.orders']],
    ['wildcards over partitions', 'public.events_*', ['public.events_2024_01', 'public.events_2024_02']],
    ['? matches one character', 'public.events_2024_0?', ['public.events_2024_01', 'public.events_2024_02']],
    ['every schema, qualified on purpose', '*.orders', ['Sales.orders', 'archive.orders']],
    ['the backed-up database named in the pattern', 'app_prod.public.customers', ['public.customers']],
    ['regex characters are literal', 'public."weird.name ""x"""', ['public.weird.name "x"']],
  ])('matches %s', (_name, pattern, expected) => {
    expect(planRestoreTable(input({ pattern })).tables.map((t) => `${t.schema}.${t.name}`)).toEqual(expected);
  });

  it.each([
    ['no table (with near matches)', 'public.custmers', 'TABLE_NOT_IN_BACKUP', 'no table of backup 20260302T030000Z-l-bbbbbb matches "public.custmers"; near matches: public.customers'],
    ['a partitioned parent (its partitions suggested)', 'public.events', 'TABLE_NOT_IN_BACKUP', 'near matches: public.events_2024_01, public.events_2024_02'],
    ['a case mismatch (the quoted name suggested)', 'inventory.items', 'TABLE_NOT_IN_BACKUP', 'near matches: inventory."Items"'],
    ['an unqualified name in two schemas', 'orders', 'INPUT_INVALID', 'matches tables in several schemas: "Sales".orders, archive.orders'],
    ['another database', 'other.public.customers', 'INPUT_INVALID', 'names database "other"'],
    ['an empty pattern', ' ', 'INPUT_INVALID', 'the table pattern is empty'],
  ])('refuses %s', (_name, pattern, code, message) => {
    expect(() => planRestoreTable(input({ pattern }))).toThrow(expect.objectContaining({ code, message: expect.stringContaining(message) }));
  });

  it.each([
    ['an unknown mode', { mode: 'merge' as never }, '--mode merge is not one of replace, append, side-by-side'],
    ['a template database as target', { target: { database: 'template1', redacted: 'x' } }, 'cannot receive a table restore'],
    ['a nonce with upper case', { nonce: 'ABC' }, 'the scratch nonce "ABC"'],
  ])('refuses %s', (_name, overrides, message) => {
    expect(() => planRestoreTable(input(overrides))).toThrow(expect.objectContaining({ code: 'INPUT_INVALID', message: expect.stringContaining(message) }));
  });

  it('warns when the backup is not VERIFIED (forced)', () => {
    expect(planRestoreTable(input({ backup: FAILED })).warnings).toEqual([`backup ${FAILED.id} is FAILED, not VERIFIED: restoring from it only because of --force`]);
  });
});

describe('isLeftoverScratch', () => {
  const current = `strongbox_scratch_${STAMP}_a1b2c3d4`;
  it.each([
    ['an older run', 'strongbox_scratch_20260304050600_ffff0000', true],
    ['a run of the same second', `strongbox_scratch_${STAMP}_0000ffff`, true],
    ['this run', current, false],
    ['a newer run', 'strongbox_scratch_20260304050608_ffff0000', false],
    ['a database that only shares the prefix', 'strongbox_scratch_notes', false],
    ['a full restore\'s scratch database', `app_restoring_${STAMP}`, false],
    ['upper case in the random part', 'strongbox_scratch_20260304050600_FFFF', false],
  ])('%s', (_name, name, expected) => {
    expect(isLeftoverScratch(name, current)).toBe(expected);
  });
});

describe('nearMatches', () => {
  it('closest first, at most five, nothing for a wildcard-only pattern', () => {
    const many = Array.from({ length: 8 }, (_, i) => ({ schema: 'public', name: `orders_${i}` }));
    expect(nearMatches(many, 'orders')).toHaveLength(5);
    expect(nearMatches(MANIFEST_TABLES, 'public.customer')).toEqual([{ schema: 'public', name: 'customers', rows: 10 }, { schema: 'public', name: 'customer_tags', rows: 3 }]);
    expect(nearMatches(MANIFEST_TABLES, '"Sales".*')).toEqual([]);
  });
});
