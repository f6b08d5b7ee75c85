import { describe, expect, it } from 'vitest';
import { asOfSpace, asOfSteps, dataExclusions, EXCLUSIONS_MAX_CHARS, WAL_HELD_SEGMENTS } from '../../../shared/domain/restore-table-asof';

const MIB = 1024 * 1024;

describe('restore-table as of a moment: the dump leaves out the other tables\' rows', () => {
  it('one schema.* per schema with no selected table, one exact name per other table beside a selected one', () => {
    const all = [
      { schema: 'public', name: 'orders' },
      { schema: 'public', name: 'customers' },
      { schema: 'Sales', name: 'orders' },
      { schema: 'Sales', name: 'items' },
      { schema: 'audit', name: 'log' },
    ];
    expect(dataExclusions(all, [{ schema: 'public', name: 'orders' }])).toEqual({ patterns: ['"public"."customers"', '"Sales".*', '"audit".*'] });
    expect(dataExclusions(all, all)).toEqual({ patterns: [] });
  });

  it('too many to name on a command line: every row is dumped, and the warning says so', () => {
    const all = Array.from({ length: 5000 }, (_, i) => ({ schema: 'public', name: `events_p${String(i).padStart(5, '0')}` }));
    const result = dataExclusions(all, [all[0]!]);
    expect(result.patterns).toEqual([]);
    expect(result.warning).toContain('holds every table\'s rows');
    expect(4999 * '"public"."events_p00000"'.length).toBeGreaterThan(EXCLUSIONS_MAX_CHARS);
  });
});

describe('restore-table as of a moment: the disk its dry run names', () => {
  it('the base backup\'s stored size and at most WAL_HELD_SEGMENTS segments of WAL; a compressed backup is a lower bound', () => {
    const plan = { wal: { first: '000000010000000000000002', last: '0000000100000000000000FF', count: 254 } };
    expect(asOfSpace({ bytes: 1000 * MIB, compression: 'zstd' }, plan, 16 * MIB)).toMatchObject({ bytes: 1000 * MIB + WAL_HELD_SEGMENTS * 16 * MIB, compressed: true, walBytes: 64 * 16 * MIB, note: expect.stringContaining('more than its') });
    expect(asOfSpace({ bytes: 1000, compression: 'none' }, { wal: { ...plan.wal, count: 2 } }, 16 * MIB)).toMatchObject({ bytes: 1000 + 32 * MIB, compressed: false });
  });

  it('the recovery steps name the base backup, the WAL range, the moment and the disk', () => {
    const source = { target: 'time 2026-11-24T03:11:00.000Z', baseBackup: '20261124T010000Z-b-abcdef', wal: { first: '000000010000000000000002', last: '000000010000000000000009', count: 8 }, sourceDatabase: 'app' };
    const steps = asOfSteps(source, asOfSpace({ bytes: 100, compression: 'none' }, source, 16 * MIB));
    expect(steps[0]).toContain('from base backup 20261124T010000Z-b-abcdef, replaying WAL 000000010000000000000002 .. 000000010000000000000009 (8 segments) to time 2026-11-24T03:11:00.000Z');
    expect(steps[0]).toContain('never on the target');
    expect(steps[1]).toContain('database "app"');
  });
});
