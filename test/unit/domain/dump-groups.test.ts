import { describe, expect, it } from 'vitest';
import { AUTO_MAX_DUMP_JOBS, chooseDumpMode, listedTables, planDumpGroups, STREAMS_FROM_BYTES, type SizedTable } from '../../../shared/domain/dump-groups';

const t = (name: string, bytes: number, schema = 'public'): SizedTable => ({ schema, name, bytes });
const names = (tables: Array<{ name: string }>) => tables.map((table) => table.name);

describe('planDumpGroups', () => {
  it('puts the largest tables first into the lightest part, the rest part first', () => {
    const groups = planDumpGroups([t('small', 10), t('orders', 450), t('docs', 300), t('readings', 240)], 2);
    expect(groups.map((g) => ({ rest: g.rest, tables: names(g.tables), bytes: g.bytes }))).toEqual([
      { rest: true, tables: ['orders', 'small'], bytes: 460 },
      { rest: false, tables: ['docs', 'readings'], bytes: 540 },
    ]);
    expect(names(listedTables(groups))).toEqual(['docs', 'readings']);
  });

  it('splits partitions like tables and keeps every table exactly once', () => {
    const tables = Array.from({ length: 40 }, (_, i) => t(`part_${i}`, 1000 + i, 'metrics'));
    const groups = planDumpGroups(tables, 4);
    expect(groups).toHaveLength(4);
    const all = groups.flatMap((g) => g.tables.map((x) => x.name)).sort();
    expect(all).toEqual(tables.map((x) => x.name).sort());
    const sizes = groups.map((g) => g.bytes);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1039);
  });

  it('drops empty listed parts but always keeps the rest part', () => {
    const groups = planDumpGroups([t('only', 5)], 4);
    expect(groups.map((g) => g.rest)).toEqual([true]);
    expect(planDumpGroups([], 3)).toEqual([{ tables: [], bytes: 0, rest: true }]);
  });

  it('leaves the smallest tables in the rest part once the listed names would not fit a command line', () => {
    const tables = Array.from({ length: 100_000 }, (_, i) => t(`partition_${String(i).padStart(6, '0')}`, 100_000 - i, 'events'));
    const groups = planDumpGroups(tables, 8);
    const listed = listedTables(groups);
    const chars = listed.reduce((sum, x) => sum + 2 * `"${x.schema}"."${x.name}"`.length + 34, 0);
    expect(chars).toBeLessThanOrEqual(256 * 1024);
    expect(listed.length).toBeGreaterThan(1000);
    expect(groups[0]!.tables.length + listed.length).toBe(100_000);
    // The listed ones are the biggest.
    expect(groups[0]!.tables.some((x) => x.name === 'partition_099999')).toBe(true);
  });
});

describe('chooseDumpMode', () => {
  const big = STREAMS_FROM_BYTES * 4;
  it('is one stream for a small database, a table backup or one vCPU', () => {
    expect(chooseDumpMode({ databaseSizeBytes: STREAMS_FROM_BYTES - 1, vcpu: 8, scope: 'full' }).mode).toBe('single');
    expect(chooseDumpMode({ databaseSizeBytes: big, vcpu: 1, scope: 'full' }).mode).toBe('single');
    expect(chooseDumpMode({ databaseSizeBytes: big, vcpu: 8, scope: 'tables', dumpJobs: 4 }).mode).toBe('single');
  });
  it('splits a big database into one data part per vCPU, bounded', () => {
    expect(chooseDumpMode({ databaseSizeBytes: big, vcpu: 4, scope: 'full' })).toMatchObject({ mode: 'streams', dataParts: 4 });
    expect(chooseDumpMode({ databaseSizeBytes: big, vcpu: 64, scope: 'full' }).dataParts).toBe(AUTO_MAX_DUMP_JOBS);
  });
  it('follows dumpJobs from the config', () => {
    expect(chooseDumpMode({ databaseSizeBytes: 1, vcpu: 1, scope: 'full', dumpJobs: 3 })).toMatchObject({ mode: 'streams', dataParts: 3 });
    expect(chooseDumpMode({ databaseSizeBytes: big, vcpu: 16, scope: 'full', dumpJobs: 1 })).toMatchObject({ mode: 'single', dataParts: 1 });
  });
});
