import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { derivedName, isScratchOf, MAX_IDENTIFIER_BYTES, planRestore, timestamp, type RestorePlanInput } from '../../../shared/domain/restore-plan';

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
const NEWEST_FAILED = entry('20260303T030000Z-l-cccccc', { state: 'FAILED', reason: 'checksum' });
const TABLES = entry('20260303T040000Z-l-dddddd', { scope: 'tables', tables: ['public.t'] });
const UPLOADED = entry('20260303T050000Z-l-eeeeee', { state: 'UPLOADED' });
const RUNNING = entry('20260303T060000Z-l-ffffff', { state: 'RUNNING' });
const BASE = entry('20260303T070000Z-b-111111', { kind: 'base' });
const OTHER_DB = entry('20260303T080000Z-l-222222', { database: 'billing' });
const ZSTD = entry('20260303T090000Z-l-333333', { compression: 'zstd', key: 'logical/daily/app/20260303T090000Z-l-333333/dump.zst' });
// Newest first, as the catalog lists them.
const CATALOG = [OTHER_DB, BASE, RUNNING, UPLOADED, TABLES, NEWEST_FAILED, NEWER, OLD];

function input(overrides: Partial<RestorePlanInput> = {}): RestorePlanInput {
  return {
    entries: CATALOG,
    backupId: 'latest',
    target: { database: 'app', redacted: 'postgresql://admin@db:5432/app' },
    now: NOW,
    force: false,
    dropFirst: false,
    jobs: 2,
    ...overrides,
  };
}

describe('planRestore chooses the backup', () => {
  it.each<[string, Partial<RestorePlanInput>, string]>([
    ['latest = newest VERIFIED full logical of the target\'s database', {}, NEWER.id],
    ['latest ignores catalog order', { entries: [OLD, NEWER] }, NEWER.id],
    ['latest of a named database', { database: 'billing', entries: [OTHER_DB, OLD] }, OTHER_DB.id],
    ['an explicit VERIFIED id', { backupId: OLD.id, entries: [OLD] }, OLD.id],
    ['an UPLOADED id with force', { backupId: UPLOADED.id, entries: [UPLOADED], force: true }, UPLOADED.id],
    ['a FAILED id with force', { backupId: NEWEST_FAILED.id, entries: [NEWEST_FAILED], force: true }, NEWEST_FAILED.id],
    ['latest skips a backup retention is deleting', { entries: [OLD, { ...NEWER, deleting: { at: '2026-03-04T00:00:00Z', rule: 'PAST_WINDOW' } }] }, OLD.id],
  ])('%s', (_name, overrides, expected) => {
    expect(planRestore(input(overrides)).backup.id).toBe(expected);
  });

  it.each<[string, Partial<RestorePlanInput>, string, RegExp]>([
    ['latest with no VERIFIED full backup', { entries: [NEWEST_FAILED, TABLES, UPLOADED] }, 'BACKUP_NOT_FOUND', /no VERIFIED full logical backup of database "app".*1 FAILED, 1 table-level VERIFIED, 1 UPLOADED/],
    ['latest with an empty catalog', { entries: [] }, 'BACKUP_NOT_FOUND', /no VERIFIED full logical backup of database "app" in the catalog$/],
    ['an unknown id', { backupId: '20250101T000000Z-l-000000', entries: [] }, 'BACKUP_NOT_FOUND', /no backup with id 20250101T000000Z-l-000000/],
    ['something that is no id', { backupId: 'yesterday' }, 'INPUT_INVALID', /neither a backup id nor "latest"/],
    ['an UPLOADED id without force', { backupId: UPLOADED.id, entries: [UPLOADED] }, 'INPUT_INVALID', /is UPLOADED, not VERIFIED/],
    ['a FAILED id without force names the reason', { backupId: NEWEST_FAILED.id, entries: [NEWEST_FAILED] }, 'INPUT_INVALID', /FAILED, not VERIFIED \(checksum\)/],
    ['a RUNNING id, even with force', { backupId: RUNNING.id, entries: [RUNNING], force: true }, 'INPUT_INVALID', /still RUNNING/],
    ['a table-level backup', { backupId: TABLES.id, entries: [TABLES] }, 'INPUT_INVALID', /holds only some tables/],
    ['a base backup', { backupId: BASE.id, entries: [BASE] }, 'INPUT_INVALID', /base backup/],
    ['an id of another database than --database', { backupId: OTHER_DB.id, entries: [OTHER_DB], database: 'app' }, 'INPUT_INVALID', /of database "billing", not "app"/],
    ['a backup retention is deleting', { backupId: OLD.id, entries: [{ ...OLD, deleting: { at: '2026-03-04T00:00:00Z', rule: 'PAST_WINDOW' } }] }, 'INPUT_INVALID', /being deleted by retention/],
    ['jobs 0', { jobs: 0 }, 'INPUT_INVALID', /--jobs 0/],
    ['jobs 1.5', { jobs: 1.5 }, 'INPUT_INVALID', /--jobs 1.5/],
    ['a template target', { target: { database: 'template1', redacted: 'x' } }, 'INPUT_INVALID', /template database/],
    ['a target over 63 bytes', { target: { database: 'é'.repeat(32), redacted: 'x' } }, 'INPUT_INVALID', /longer than 63 bytes/],
  ])('refuses %s', (_name, overrides, code, message) => {
    let thrown: unknown;
    try {
      planRestore(input(overrides));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code, message: expect.stringMatching(message), hint: expect.any(String) });
  });

  it('an explicit id of another database is fine without --database (the target name may differ)', () => {
    const plan = planRestore(input({ backupId: OTHER_DB.id, entries: [OTHER_DB] }));
    expect(plan).toMatchObject({ database: 'billing', backup: { id: OTHER_DB.id } });
  });

  it('a forced restore carries a warning; a VERIFIED one none', () => {
    expect(planRestore(input({ backupId: UPLOADED.id, entries: [UPLOADED], force: true })).warnings).toEqual([expect.stringContaining('UPLOADED, not VERIFIED')]);
    expect(planRestore(input()).warnings).toEqual([]);
  });
});

describe('planRestore names the databases and lists the steps', () => {
  it('restores into a timestamped scratch database and keeps the old one', () => {
    const plan = planRestore(input());
    expect(plan).toMatchObject({ restoreInto: `app_restoring_${STAMP}`, keptAs: `app_before_restore_${STAMP}`, scratchPrefix: 'app_restoring_', dropFirst: false, jobs: 2 });
    expect(plan.steps[0]).toMatch(/leftover scratch databases .*app_restoring_<timestamp>.* on postgresql:\/\/admin@db:5432\/app/);
    expect(plan.steps[1]).toMatch(new RegExp(`download ${NEWER.key} .*SHA-256`));
    expect(plan.steps[1]).not.toMatch(/zstd/);
    expect(plan.steps[2]).toMatch(/pg_restore --list/);
    expect(plan.steps[3]).toMatch(new RegExp(`create database "app_restoring_${STAMP}" .*pg_restore -j 2 .*"app" is not touched yet`));
    expect(plan.steps[4]).toMatch(/row count.*dropped and "app" is left as it is/);
    expect(plan.steps[5]).toMatch(new RegExp(`swap: end the sessions on "app", rename it to "app_before_restore_${STAMP}" \\(kept for you to drop\\)`));
    expect(plan.steps.join('\n')).not.toMatch(/DROP/);
    expect(plan.steps.at(-1)).toMatch(/RTO.*globals\) are not restored/);
  });

  it('with --drop-first says first that the target is dropped, restores straight into it and keeps nothing', () => {
    const plan = planRestore(input({ dropFirst: true, jobs: 4 }));
    expect(plan.restoreInto).toBe('app');
    expect(plan.keptAs).toBeUndefined();
    const dropAt = plan.steps.findIndex((step) => /^DROP the target database "app" now \(--drop-first\)/.test(step));
    const createAt = plan.steps.findIndex((step) => /create database "app" and restore into it \(pg_restore -j 4/.test(step));
    expect(dropAt).toBeGreaterThan(plan.steps.findIndex((step) => /SHA-256/.test(step)));
    expect(createAt).toBe(dropAt + 1);
    expect(plan.steps.join('\n')).not.toMatch(/swap|before_restore/);
  });

  it('a streamed restore (one job from S3): no download, no --list, one transaction whose end waits for the SHA-256', () => {
    const plan = planRestore(input({ jobs: 1, streamed: true }));
    expect(plan.streamed).toBe(true);
    expect(plan.steps.join('\n')).not.toMatch(/download|pg_restore --list/);
    expect(plan.steps[1]).toMatch(new RegExp(`create database "app_restoring_${STAMP}" and stream ${NEWER.key} .*no local file: pg_restore --single-transaction .*SHA-256 match the manifest .*rolls the transaction back\\); "app" is not touched yet`));
    expect(planRestore(input({ jobs: 1 })).streamed).toBeUndefined();
  });

  it('a zstd backup is decompressed after its checksum', () => {
    expect(planRestore(input({ backupId: ZSTD.id, entries: [ZSTD] })).steps[1]).toMatch(/SHA-256 against the manifest, then decompress it \(zstd -d\)/);
  });

  it.each<[string, string]>([
    ['short', 'app'],
    ['exactly fitting', 'a'.repeat(MAX_IDENTIFIER_BYTES - '_before_restore_'.length - 14)],
    ['long ASCII', 'x'.repeat(60)],
    ['long multi-byte', 'é'.repeat(31)],
  ])('names stay within 63 bytes and are told apart (%s)', (_name, target) => {
    const plan = planRestore(input({ database: 'app', target: { database: target, redacted: 'x' } }));
    for (const name of [plan.restoreInto, plan.keptAs!]) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_IDENTIFIER_BYTES);
      expect(name.endsWith(STAMP)).toBe(true);
      expect(name.includes('\uFFFD')).toBe(false);
    }
    expect(plan.restoreInto.startsWith(plan.scratchPrefix)).toBe(true);
    expect(isScratchOf(plan, plan.restoreInto)).toBe(true);
  });

  it('two long targets sharing a prefix get different scratch prefixes', () => {
    const a = derivedName(`${'x'.repeat(50)}a`, '_restoring_', '');
    const b = derivedName(`${'x'.repeat(50)}b`, '_restoring_', '');
    expect(a).not.toBe(b);
    expect(derivedName('app', '_restoring_', STAMP)).toBe(`app_restoring_${STAMP}`);
  });

  it.each<[string, boolean]>([
    [`app_restoring_${STAMP}`, true],
    ['app_restoring_20200101000000', true],
    ['app_restoring_2020', false],
    ['app_restoring_20200101000000x', false],
    [`app_before_restore_${STAMP}`, false],
    [`app2_restoring_${STAMP}`, false],
    ['app', false],
  ])('isScratchOf(app, %s) = %s', (name, expected) => {
    expect(isScratchOf(planRestore(input()), name)).toBe(expected);
  });

  it('timestamp is UTC yyyymmddhhmmss', () => {
    expect(timestamp(NOW)).toBe(STAMP);
    expect(timestamp(new Date('2026-12-31T23:59:59.999Z'))).toBe('20261231235959');
  });
});
