/**
 * Local cold storage on the real stack: a real monthly pg_dump backup moved under `cold/`
 * of the repository folder by `retention apply` is still checksummed, listed by a catalog
 * rebuild, and restored by its key, as if nothing had moved.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../shared/domain/backup';
import { DEFAULT_RETENTION_POLICY } from '../../shared/domain/retention';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { rebuildCatalog } from '../../shared/usecases/rebuild-catalog';
import { runRestore } from '../../shared/usecases/restore';
import { applyRetention } from '../../shared/usecases/retention';
import { hashStoredObject } from '../../shared/usecases/verify-backup';
import { fingerprint, type Fingerprint } from '../support/restore';
import { startStack, type Stack } from '../support/stack';

const DAY = 86_400_000;
const NOW = new Date(Date.now());

let stack: Stack;
let tmp: string;
let monthly: BackupEntry;
let original: Fingerprint;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 200 });
  tmp = await mkdtemp(join(tmpdir(), 'sbx-retention-cold-'));
  original = await fingerprint(stack.conn);
  const at = (days: number) => () => new Date(NOW.getTime() - days * DAY);
  monthly = await runLogicalBackup({ ...stack.deps, clock: at(10) }, { database: 'app', connection: stack.conn, tier: 'monthly', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
  await runLogicalBackup({ ...stack.deps, clock: at(1) }, { database: 'app', connection: stack.conn, tier: 'daily', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
});
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('local cold storage', () => {
  it('moves a monthly under cold/, and checksum, rebuild and restore still find it by its keys', async () => {
    // Act
    const report = await applyRetention({ ...stack.deps, walCatalog: stack.walCatalog, clock: () => NOW }, { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    // Assess: moved
    expect(report.cold).toEqual([expect.objectContaining({ id: monthly.id, rule: 'COLD_STORAGE', moved: true })]);
    expect(report.notes.join('\n')).toMatch(/moved under cold\//);
    const folder = monthly.manifestKey.slice(0, monthly.manifestKey.lastIndexOf('/'));
    const root = stack.storage.bucket;
    expect((await readdir(join(root, 'cold', ...folder.split('/')))).sort()).toHaveLength(3);
    await expect(stat(join(root, ...folder.split('/')))).rejects.toMatchObject({ code: 'ENOENT' });
    // checksum: the stored dump still hashes to the catalog's SHA-256
    expect(await hashStoredObject(stack.storage, monthly.key)).toMatchObject({ sha256: monthly.sha256 });
    // rebuild: a fresh catalog indexes it again from its manifest
    const fresh = await stack.freshCatalog('cold-rebuild');
    await rebuildCatalog({ storage: stack.storage, catalog: fresh, alerts: stack.alerts, log: stack.log, clock: () => NOW }, { verify: true });
    expect(await fresh.get(monthly.id)).toMatchObject({ id: monthly.id, tier: 'monthly', key: monthly.key });
    // restore: into a new database, the same data
    const target = { ...stack.conn, database: 'from_cold' };
    const restored = await runRestore({ ...stack.deps, ...pgRestoreDeps, tmpDir: tmp }, { backupId: monthly.id, target, database: 'app', jobs: 1, dropFirst: false, force: false });
    expect(restored.backupId).toBe(monthly.id);
    expect(await fingerprint(target)).toEqual(original);
    // a second run moves nothing
    const again = await applyRetention({ ...stack.deps, walCatalog: stack.walCatalog, clock: () => NOW }, { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    expect(again.cold).toEqual([expect.objectContaining({ id: monthly.id })]);
    expect(again.cold[0]?.moved).toBeUndefined();
  });
});
