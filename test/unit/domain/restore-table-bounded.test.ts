import { describe, expect, it } from 'vitest';
import { ALERT_LIMITS } from '../../../shared/domain/alerts/bounded';
import { matchManifestTables } from '../../../shared/domain/restore-table-match';
import type { RestoreTablePlan } from '../../../shared/domain/restore-table-plan';
import type { TableRestoreTools } from '../../../shared/ports/restore-table';
import { selectFromArchive } from '../../../shared/usecases/restore-table/archive';

// 2,000 tables: what a multi-tenant schema-per-customer database holds. No message may carry them all.
const TABLES = Array.from({ length: 2000 }, (_, i) => ({ schema: `tenant_${String(i).padStart(4, '0')}`, name: 'orders', rows: i }));
const CONTEXT = { backupId: 'b-1', pgDatabase: 'app', database: 'app' };

function caught(act: () => unknown): Error & { code?: string } {
  try {
    act();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('it did not throw');
}

describe('table lists in restore-table errors are bounded', () => {
  it('an unqualified name in 2,000 schemas names the first ones and how many more', () => {
    const error = caught(() => matchManifestTables(TABLES, 'orders', CONTEXT));
    expect(error.code).toBe('INPUT_INVALID');
    expect(error.message).toContain('matches tables in several schemas: tenant_0000.orders, tenant_0001.orders');
    expect(error.message).toMatch(/… and \d+ more/);
    expect(error.message).not.toContain('tenant_1999');
    expect(Buffer.byteLength(error.message)).toBeLessThan(ALERT_LIMITS.fieldBytes * 30);
  });

  it('a pattern matching none of 2,000 tables names a bounded list of near matches', () => {
    const error = caught(() => matchManifestTables(TABLES, 'tenant_0001.order', CONTEXT));
    expect(error.code).toBe('TABLE_NOT_IN_BACKUP');
    expect(Buffer.byteLength(error.message)).toBeLessThan(4096);
  });

  it('a dump lacking 2,000 of its manifest\'s tables says how many and names the first ones', async () => {
    const tools = { listArchive: async () => ';\n; Archive created at 2026-11-24 07:15:51 UTC\n;\n3468; 0 0 ENCODING - ENCODING \n' } as unknown as TableRestoreTools;
    const plan = { backup: { id: 'b-1' }, tables: TABLES } as unknown as RestoreTablePlan;
    const error = await selectFromArchive(tools, '/nowhere.dump', plan).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(error?.code).toBe('TABLE_NOT_IN_BACKUP');
    expect(error?.message).toContain('lacks 2000 table(s): ');
    expect(error?.message).toMatch(/… and \d+ more/);
    expect(error?.message).not.toContain('tenant_1999');
    expect(Buffer.byteLength(error!.message)).toBeLessThan(ALERT_LIMITS.fieldBytes * 30);
  });
});
