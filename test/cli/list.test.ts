import { describe, expect, it } from 'vitest';
import { listTable, oneLine } from '../../shared/cli/commands/list';
import type { BackupEntry } from '../../shared/domain/backup';

function entry(id: string, fields: Partial<BackupEntry>): BackupEntry {
  return {
    id,
    database: 'demo',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: `k/${id}`,
    manifestKey: `m/${id}`,
    compression: 'gzip',
    bytes: 199_300,
    startedAt: '2026-11-24T03:00:00.000Z',
    heartbeatAt: '2026-11-24T03:00:00.000Z',
    ...fields,
  };
}

describe('strongbox list (the human table)', () => {
  it('has a KIND column: logical, table and base, as the catalog records them; SCOPE says what each holds', () => {
    const text = listTable([
      entry('20261124T030000Z-b-000001', { kind: 'base', compression: 'zstd' }),
      entry('20261124T020000Z-l-000002', { globalsKey: 'g/2' }),
      entry('20261124T010000Z-l-000003', { scope: 'tables', tables: ['public.customers', '"Sales".*'], tier: 'manual' }),
    ]);
    const [header, base, logical, table] = text.split('\n').map((line) => line.split(/ {2,}/));
    expect(header).toEqual(['ID', 'DATABASE', 'KIND', 'TIER', 'SCOPE', 'STATE', 'SIZE', 'STARTED', 'REASON']);
    expect(base!.slice(2, 5)).toEqual(['base', 'daily', 'cluster']);
    expect(logical!.slice(2, 5)).toEqual(['logical', 'daily', 'database+globals']);
    expect(table!.slice(2, 5)).toEqual(['table', 'manual', 'tables public.customers "Sales".*']);
  });

  it('a multi-line reason stays on its row, cut to one line; the columns stay aligned', () => {
    const reason = 'pg_dump exited with code 1:\npg_dump: error: connection to server lost\n\tserver closed the connection unexpectedly\n' + 'x'.repeat(300);
    const text = listTable([entry('20261124T030000Z-l-000001', { state: 'FAILED', reason }), entry('20261124T020000Z-l-000002', {})]);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('pg_dump exited with code 1: pg_dump: error: connection to server lost server closed the connection unexpectedly xxx');
    expect(lines[1]!.endsWith('…')).toBe(true);
    expect(lines[0]!.indexOf('REASON')).toBe(lines[1]!.indexOf('pg_dump'));
  });

  it('oneLine: whitespace runs become one space; at most the width, with an ellipsis', () => {
    expect(oneLine(' a\n\n b\t c ')).toBe('a b c');
    expect(oneLine('abcdef', 4)).toBe('abc…');
    expect(oneLine('abcd', 4)).toBe('abcd');
  });
});
