import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { archiveLagAlertType } from '../../../../shared/domain/alerts/archive-lag';
import { dedupeKeyOf, dedupeWindowMs } from '../../../../shared/domain/alerts/dedupe';
import { ALERT_TYPES, alertTypeSpec, isAlertType } from '../../../../shared/domain/alerts/registry';
import type { Alert } from '../../../../shared/ports';

const ROOT = join(import.meta.dirname, '../../../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every literal alert type in a file that publishes alerts (`type: 'X'`, ternaries included). */
function raisedTypes(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of [...sources(join(ROOT, 'shared')), ...sources(join(ROOT, 'functions')), ...sources(join(ROOT, 'tasks'))]) {
    const text = readFileSync(file, 'utf8');
    if (!/\.publish\(|alert\(\{|severity:/.test(text)) continue;
    for (const [, expression] of text.matchAll(/\btype:\s*([^,\n]+)/g)) {
      for (const [, type] of expression!.matchAll(/'([A-Z][A-Z0-9_]{2,})'/g)) found.set(type!, file.slice(ROOT.length + 1));
    }
  }
  // The state machines publish alerts built in YAML: `type: X` followed by `severity: SEVn`.
  const machines = readFileSync(join(ROOT, 'deploy/stepfunctions.yml'), 'utf8');
  for (const [, type] of machines.matchAll(/^\s*type: ([A-Z][A-Z0-9_]{2,})\s*\n\s*severity: SEV[1-4]/gm)) found.set(type!, 'deploy/stepfunctions.yml');
  return found;
}

const alert = (fields: Partial<Alert> & Pick<Alert, 'type'>): Alert => ({ severity: 'SEV2', message: 'm', at: '2026-11-24T03:00:00Z', ...fields });

describe('alert registry', () => {
  it('lists every alert type the code publishes', () => {
    const raised = raisedTypes();
    // The scan must see the well-known ones, or it proves nothing.
    expect([...raised.keys()]).toEqual(expect.arrayContaining(['BACKUP_FAILED', 'CHECKSUM_MISMATCH', 'BACKUP_INCOMPLETE', 'WAL_CONFLICT', 'WAL_GAP', 'ARCHIVE_LAG', 'ARCHIVE_FAILING', 'VALIDATION_FAILED', 'RETENTION_FAILED', 'TASK_FAILED', 'RESTORE_FAILED']));
    const missing = [...raised].filter(([type]) => !isAlertType(type)).map(([type, file]) => `${type} (${file})`);
    expect(missing).toEqual([]);
  });

  it.each(Object.entries(ALERT_TYPES))('%s has a runbook severity, a title and a window', (_type, spec) => {
    expect(['SEV1', 'SEV2', 'SEV3', 'SEV4']).toContain(spec.severity);
    expect(spec.title.length).toBeGreaterThan(3);
    expect(spec.windowSeconds).toBeGreaterThanOrEqual(3_600);
  });

  it('answers undefined for a type nobody registered', () => {
    expect(alertTypeSpec('NOPE')).toBeUndefined();
    expect(alertTypeSpec('toString')).toBeUndefined();
    expect(alertTypeSpec('ARCHIVE_LAG_WARNING')).toMatchObject({ severity: 'SEV4' });
  });
});

describe('dedupe keys', () => {
  it.each([
    ['a backup failure: its backup id alone', alert({ type: 'BACKUP_FAILED', database: 'app', backupId: 'b1' }), 'backup#b1'],
    ['the ECS rule on the same backup: the same key', alert({ type: 'TASK_FAILED', database: 'app', backupId: 'b1', code: 'TASK_FAILED' }), 'backup#b1'],
    ['a backup-scoped type without id: type and database', alert({ type: 'TASK_FAILED', database: 'app' }), 'TASK_FAILED#app'],
    ['a WAL conflict: type and database', alert({ type: 'WAL_CONFLICT', database: 'app', code: 'WAL_CONFLICT' }), 'WAL_CONFLICT#app'],
    ['no database', alert({ type: 'ARCHIVE_LAG' }), 'ARCHIVE_LAG#-'],
    ['the dead man: per check code', alert({ type: 'DEADMAN_SILENCE', database: 'app', code: 'DEADMAN_WAL' }), 'DEADMAN_SILENCE#app#DEADMAN_WAL'],
    ['an unknown type: type, database, code', alert({ type: 'SOMETHING_NEW', database: 'db', code: 'X' }), 'SOMETHING_NEW#db#X'],
    ['separators and spaces in parts are neutralised', alert({ type: 'WAL_GAP', database: 'a#b c' }), 'WAL_GAP#a_b_c'],
    ['an explicit key wins', alert({ type: 'WAL_GAP', database: 'app', dedupeKey: 'mine' }), 'mine'],
  ])('%s', (_name, input, key) => {
    expect(dedupeKeyOf(input)).toBe(key);
  });

  it('takes the window from the registry (unknown types: one hour)', () => {
    expect(dedupeWindowMs(alert({ type: 'BACKUP_FAILED' }))).toBe(86_400_000);
    expect(dedupeWindowMs(alert({ type: 'WAL_GAP' }))).toBe(6 * 3_600_000);
    expect(dedupeWindowMs(alert({ type: 'SOMETHING_NEW' }))).toBe(3_600_000);
  });
});

describe('archive lag thresholds', () => {
  it.each([
    [undefined, {}, undefined],
    [Number.NaN, {}, undefined],
    [12, {}, undefined],
    [60, {}, undefined],
    [60.5, {}, 'ARCHIVE_LAG_WARNING'],
    [300, {}, 'ARCHIVE_LAG_WARNING'],
    [301, {}, 'ARCHIVE_LAG'],
    [90, { rpoSeconds: 80 }, 'ARCHIVE_LAG'],
    [70, { rpoSeconds: 80 }, 'ARCHIVE_LAG_WARNING'],
    [50, { rpoSeconds: 40, warningSeconds: 60 }, 'ARCHIVE_LAG'],
    [30, { warningSeconds: 20 }, 'ARCHIVE_LAG_WARNING'],
  ])('lag %s s with %o → %s', (lag, thresholds, expected) => {
    expect(archiveLagAlertType(lag, thresholds)).toBe(expected);
  });
});
