/**
 * Retention on the real stack: real pg_dump backups in a repository folder, indexed and
 * checksummed by the real handlers in dynalite, aged by taking them with a clock in the
 * past, then planned and deleted — including a run that stops half-way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../shared/ports/catalog';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry, Tier } from '../../shared/domain/backup';
import { DEFAULT_RETENTION_POLICY } from '../../shared/domain/retention';
import { StorageError } from '../../shared/errors';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { rebuildCatalog } from '../../shared/usecases/rebuild-catalog';
import { applyRetention, type RetentionDeps } from '../../shared/usecases/retention';
import { keysUnder, startStack, type Stack } from '../support/stack';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');

let stack: Stack;
const taken: Record<string, BackupEntry> = {};

function folderOf(entry: BackupEntry): string {
  return entry.manifestKey.slice(0, entry.manifestKey.lastIndexOf('/') + 1);
}

/** A real, VERIFIED full backup of the sample database, as if taken `daysAgo` before NOW. */
async function backupAt(name: string, daysAgo: number, tier: Tier, database = 'app'): Promise<BackupEntry> {
  const at = new Date(NOW.getTime() - daysAgo * DAY);
  const entry = await runLogicalBackup(
    { ...stack.deps, clock: () => at },
    { database, connection: stack.conn, tier, compression: 'gzip', includeRolePasswords: false, runner: 'test' },
  );
  expect(entry.state).toBe('VERIFIED');
  taken[name] = entry;
  return entry;
}

function deps(overrides: Partial<RetentionDeps> = {}): RetentionDeps {
  return { storage: stack.storage, catalog: stack.catalog, log: stack.log, alerts: stack.alerts, clock: () => NOW, ...overrides };
}

/** The storage with `delete` failing from its `failFrom`-th call on (1 = every call). */
function deletesFailing(storage: Storage, failFrom: number): Storage {
  let calls = 0;
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'delete') {
        return async (keys: readonly string[]) => {
          calls += 1;
          if (calls >= failFrom) throw new StorageError('the disk went away', 'check the repository folder');
          return target.delete(keys);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function decisionLines(): Array<Record<string, unknown>> {
  return stack.log.lines.filter((line) => line.level === 'INFO' && line.message === 'retention decision').map((line) => line.attributes ?? {});
}

async function everything(): Promise<{ keys: string[]; ids: string[] }> {
  return { keys: await keysUnder(stack.storage, 'logical/'), ids: (await stack.catalog.listAll()).map((entry) => entry.id) };
}

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 100 });
  await backupAt('oldDaily', 100, 'daily');
  await backupAt('oldWeekly', 95, 'weekly');
  await backupAt('monthly', 45, 'monthly');
  await backupAt('newest', 2, 'daily');
  await backupAt('legacyOld', 200, 'daily', 'legacy');
  await backupAt('legacyNewest', 100, 'daily', 'legacy');
}, 120_000);
afterAll(async () => stack?.stop());

describe('retention of logical backups on the real stack', () => {
  it('a dry run logs every decision with its reason and changes nothing', async () => {
    // Prepare
    const before = await everything();
    stack.log.lines.length = 0;
    // Act
    const report = await applyRetention(deps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: true });
    // Assess
    expect(report.dryRun).toBe(true);
    expect(report.deleted.map((item) => item.id).sort()).toEqual([taken.oldDaily!.id, taken.oldWeekly!.id, taken.legacyOld!.id].sort());
    expect(report.cold.map((item) => item.id)).toEqual([taken.monthly!.id]);
    expect(report.bytesFreed).toBeGreaterThan(0);
    expect(await everything()).toEqual(before);
    const lines = decisionLines();
    expect(lines).toHaveLength(6);
    expect(lines).toContainEqual(expect.objectContaining({ backupId: taken.oldDaily!.id, action: 'delete', rule: 'PAST_WINDOW', reason: 'daily older than 30 days (100.0 days old)', dryRun: true }));
    expect(lines).toContainEqual(expect.objectContaining({ backupId: taken.legacyNewest!.id, action: 'keep', rule: 'NEWEST_VERIFIED', reason: 'newest VERIFIED full backup of legacy: always kept' }));
    expect(lines).toContainEqual(expect.objectContaining({ backupId: taken.monthly!.id, action: 'cold', rule: 'COLD_STORAGE' }));
    expect(report.notes.join(' ')).toMatch(/noncurrent versions/);
  });

  it('apply deletes the objects (manifest first) and the entries past their window, keeps the newest, and is idempotent', async () => {
    // Prepare
    const doomed = [taken.oldDaily!, taken.oldWeekly!, taken.legacyOld!];
    let expectedBytes = 0;
    for (const entry of doomed) for await (const object of stack.storage.list(folderOf(entry))) expectedBytes += object.size;
    stack.log.lines.length = 0;
    // Act
    const report = await applyRetention(deps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    const again = await applyRetention(deps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    // Assess
    expect(report.deleted.map((item) => item.id).sort()).toEqual(doomed.map((entry) => entry.id).sort());
    expect(report.failed).toEqual([]);
    expect(report.bytesFreed).toBe(expectedBytes);
    for (const entry of doomed) {
      expect(await keysUnder(stack.storage, folderOf(entry))).toEqual([]);
      expect(await stack.catalog.get(entry.id)).toBeUndefined();
    }
    for (const kept of [taken.newest!, taken.monthly!, taken.legacyNewest!]) {
      expect(await keysUnder(stack.storage, folderOf(kept))).toHaveLength(3);
      expect(await stack.catalog.get(kept.id)).toMatchObject({ state: 'VERIFIED' });
      expect((await stack.catalog.get(kept.id))?.deleting).toBeUndefined();
    }
    const deletedLines = stack.log.lines.filter((line) => line.message === 'backup deleted by retention').map((line) => line.attributes?.backupId);
    expect(deletedLines.sort()).toEqual(doomed.map((entry) => entry.id).sort());
    expect(again.deleted).toEqual([]);
    expect(again.kept.length + again.cold.length).toBe(3);
  });

  it('a run that stops after marking finishes in the next run, and alerts once', async () => {
    // Prepare
    const entry = await backupAt('interrupted', 50, 'daily');
    const alertsBefore = stack.alerts.published.length;
    // Act: storage refuses every delete, as if the run died right after marking.
    const broken = await applyRetention(deps({ storage: deletesFailing(stack.storage, 1) }), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    const marked = await stack.catalog.get(entry.id);
    const keysLeft = await keysUnder(stack.storage, folderOf(entry));
    const finished = await applyRetention(deps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    // Assess
    expect(broken.failed).toEqual([expect.objectContaining({ id: entry.id, code: 'STORAGE_FAILED', rule: 'PAST_WINDOW' })]);
    expect(stack.alerts.published.slice(alertsBefore)).toEqual([expect.objectContaining({ type: 'RETENTION_FAILED', severity: 'SEV3', backupId: entry.id, code: 'STORAGE_FAILED' })]);
    expect(marked?.deleting).toEqual({ at: NOW.toISOString(), rule: 'PAST_WINDOW' });
    expect(keysLeft).toHaveLength(3);
    expect(finished.deleted).toEqual([expect.objectContaining({ id: entry.id, rule: 'FINISH_DELETION' })]);
    expect(await keysUnder(stack.storage, folderOf(entry))).toEqual([]);
    expect(await stack.catalog.get(entry.id)).toBeUndefined();
  });

  it('a run that stops between the manifest and the data leaves a folder that a catalog rebuild does not resurrect', async () => {
    // Prepare
    const entry = await backupAt('half-deleted', 60, 'daily');
    // Act: the first delete (the manifest) succeeds, the second (dump and globals) fails.
    const broken = await applyRetention(deps({ storage: deletesFailing(stack.storage, 2) }), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    const leftover = await keysUnder(stack.storage, folderOf(entry));
    const fresh: Catalog = await stack.freshCatalog('after-half-delete');
    const rebuilt = await rebuildCatalog({ ...deps(), catalog: fresh }, { verify: false });
    const finished = await applyRetention(deps(), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    // Assess
    expect(broken.failed.map((item) => item.id)).toEqual([entry.id]);
    expect(leftover.sort()).toEqual([entry.globalsKey, entry.key].sort());
    expect(rebuilt.incomplete).toContain(folderOf(entry));
    expect(await fresh.get(entry.id)).toBeUndefined();
    expect(finished.deleted.map((item) => item.id)).toEqual([entry.id]);
    expect(await keysUnder(stack.storage, folderOf(entry))).toEqual([]);
  });

  it('skips, and keeps, an entry whose state changed between the plan and the mark', async () => {
    // Prepare: a concurrent checksum fails the backup just before retention marks it.
    const entry = await backupAt('changed', 70, 'daily');
    const racing: Catalog = new Proxy(stack.catalog, {
      get(target, property) {
        if (property === 'markDeleting') {
          return async (id: string, expected: 'VERIFIED', mark: { at: string; rule: string }) => {
            await target.transition(id, 'FAILED', { reason: 'checksum mismatch found meanwhile' });
            return target.markDeleting(id, expected, mark);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // Act
    const report = await applyRetention(deps({ catalog: racing }), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    // Assess
    expect(report.skipped).toEqual([expect.objectContaining({ id: entry.id, why: expect.stringContaining('FAILED') })]);
    expect(report.deleted).toEqual([]);
    expect(await stack.catalog.get(entry.id)).toMatchObject({ state: 'FAILED' });
    expect((await stack.catalog.get(entry.id))?.deleting).toBeUndefined();
    expect(await keysUnder(stack.storage, folderOf(entry))).toHaveLength(3);
  });

  it('deletes nothing of a database whose newest VERIFIED backup failed between the plan and the deletions', async () => {
    // Prepare: an old daily, and a later checksum failing the newest right after the catalog was read.
    const old = await backupAt('blocked', 80, 'daily');
    const newestId = taken.newest!.id;
    const failing: Catalog = new Proxy(stack.catalog, {
      get(target, property) {
        if (property === 'listAll') {
          return async () => {
            const entries = await target.listAll();
            await target.transition(newestId, 'FAILED', { reason: 'checksum mismatch found meanwhile', errorCode: 'CHECKSUM_MISMATCH' });
            return entries;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // Act
    const report = await applyRetention(deps({ catalog: failing }), { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    // Assess
    // The FAILED backup of the previous test is past its 14 days too: held back with the rest of `app`.
    expect(report.skipped.map((item) => item.id).sort()).toEqual([old.id, taken.changed!.id].sort());
    expect(report.skipped).toContainEqual(expect.objectContaining({ id: old.id, why: expect.stringContaining(`newest VERIFIED backup ${newestId} changed since the plan (FAILED)`) }));
    expect(report.deleted).toEqual([]);
    expect(await keysUnder(stack.storage, folderOf(old))).toHaveLength(3);
    expect((await stack.catalog.get(old.id))?.deleting).toBeUndefined();
  });
});
