/**
 * The retention function on the real stack (s3rver, dynalite, real pg_dump backups aged
 * by a clock in the past): a new backup's SNS-wrapped ObjectCreated event applies its
 * database's plan, a repeat changes nothing, garbage and foreign keys are ignored, the
 * daily sweep covers every database, and errors alert once without deleting anything.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { policyFromEnv, retentionHandler, type RetentionFunctionDeps } from '../../functions/retention';
import type { Catalog } from '../../shared/ports/catalog';
import type { BackupEntry, Tier } from '../../shared/domain/backup';
import { DEFAULT_RETENTION_POLICY } from '../../shared/domain/retention';
import { objectCreatedEvent } from '../../shared/domain/object-event';
import { walRecordKey } from '../../shared/domain/wal/keys';
import type { Storage } from '../../shared/ports/storage';
import { CatalogError, InputError, StorageError } from '../../shared/errors';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { keysUnder, startStack, type Stack } from '../support/stack';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');

let stack: Stack;
const taken: Record<string, BackupEntry> = {};

async function backupAt(name: string, daysAgo: number, tier: Tier, database = 'app'): Promise<BackupEntry> {
  const at = new Date(NOW.getTime() - daysAgo * DAY);
  const entry = await runLogicalBackup({ ...stack.deps, clock: () => at }, { database, connection: stack.conn, tier, compression: 'gzip', includeRolePasswords: false, runner: 'test' });
  expect(entry.state).toBe('VERIFIED');
  taken[name] = entry;
  return entry;
}

/** The ObjectCreated event of `keys` as the SNS topic delivers it to the function. */
function snsEvent(keys: string[], bucket = stack.storage.bucket): unknown {
  return {
    Records: keys.map((key) => ({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      Sns: { Type: 'Notification', TopicArn: 'arn:aws:sns:us-east-1:123456789012:strongbox-dev-object-created', Message: JSON.stringify(objectCreatedEvent({ bucket, key, size: 100, time: NOW })) },
    })),
  };
}

function deps(overrides: Partial<RetentionFunctionDeps> = {}): RetentionFunctionDeps {
  return { storage: stack.storage, catalog: stack.catalog, walCatalog: stack.walCatalog, log: stack.log, alerts: stack.alerts, clock: () => NOW, ...overrides };
}

const defaults = () => ({ ...DEFAULT_RETENTION_POLICY });

async function ids(): Promise<string[]> {
  return (await stack.catalog.listAll()).map((entry) => entry.id).sort();
}

async function snapshot(): Promise<{ ids: string[]; keys: string[] }> {
  return { ids: await ids(), keys: await keysUnder(stack.storage, 'logical/') };
}

/** The storage with every delete failing, as S3 would without s3:DeleteObject. */
function undeletable(storage: Storage): Storage {
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'delete') return async () => Promise.reject(new StorageError('AccessDenied on DeleteObjects', 'grant s3:DeleteObject'));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The catalog with listByDatabase and listAll failing, as DynamoDB throttling would. */
function failingCatalog(catalog: Catalog): Catalog {
  return new Proxy(catalog, {
    get(target, property) {
      if (property === 'listByDatabase' || property === 'listAll') return async () => Promise.reject(new CatalogError('throttled', 'retry later'));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

beforeAll(async () => {
  stack = await startStack({ storage: 's3', rows: 50 });
  await backupAt('appOld', 100, 'daily');
  await backupAt('appNewest', 1, 'daily');
  await backupAt('legacyOld', 200, 'daily', 'legacy');
  await backupAt('legacyMiddle', 150, 'daily', 'legacy');
  await backupAt('legacyNewest', 120, 'daily', 'legacy');
}, 180_000);
afterAll(async () => stack?.stop());
beforeEach(() => {
  stack.alerts.published.length = 0;
  stack.log.lines.length = 0;
});

describe('policyFromEnv', () => {
  it('reads the retention section, with defaults for what it leaves out', () => {
    expect(policyFromEnv({})).toEqual(DEFAULT_RETENTION_POLICY);
    expect(policyFromEnv({ STRONGBOX_RETENTION_POLICY: '{"dailyDays":14}' })).toEqual({ ...DEFAULT_RETENTION_POLICY, dailyDays: 14 });
  });

  it.each([['not json'], ['{"dailyDays":-1}'], ['{"dayliDays":3}']])('refuses %s', (text) => {
    expect(() => policyFromEnv({ STRONGBOX_RETENTION_POLICY: text })).toThrow(InputError);
  });
});

describe('the retention function', () => {
  it('ignores a garbage event, WAL records, other keys and other buckets without touching anything', async () => {
    const before = await snapshot();
    const handle = retentionHandler(deps(), defaults);
    const garbage = await handle({ hello: 'world' });
    expect(garbage).toEqual({ trigger: 'object-created', runs: [], ignored: ['the event is neither an S3 nor an SNS event'] });
    const foreign = await handle(snsEvent([walRecordKey('app', '000000010000000000000003'), 'logical/daily/app/notes.txt']));
    expect(foreign.runs).toEqual([]);
    expect(foreign.ignored).toEqual(['logical/daily/app/notes.txt', walRecordKey('app', '000000010000000000000003')]);
    const otherBucket = await handle(snsEvent([taken.appNewest!.manifestKey], 'someone-elses-bucket'));
    expect(otherBucket).toMatchObject({ runs: [], ignored: [taken.appNewest!.manifestKey] });
    expect(await snapshot()).toEqual(before);
    expect(stack.alerts.published).toEqual([]);
    expect(stack.log.lines.some((line) => line.level === 'WARN' && line.message === 'event ignored')).toBe(true);
  });

  it('refuses a bad policy: one RETENTION_FAILED alert, nothing deleted, not retried', async () => {
    const before = await snapshot();
    const result = await retentionHandler(deps(), () => policyFromEnv({ STRONGBOX_RETENTION_POLICY: '{"dailyDays":0}' }))(snsEvent([taken.appNewest!.manifestKey]));
    expect(result).toMatchObject({ runs: [], error: { code: 'INPUT_INVALID' } });
    expect(stack.alerts.published).toHaveLength(1);
    expect(stack.alerts.published[0]).toMatchObject({ type: 'RETENTION_FAILED', severity: 'SEV3', code: 'INPUT_INVALID', database: 'app' });
    expect(await snapshot()).toEqual(before);
  });

  it('throws on a catalog failure so the event is retried, alerting once and deleting nothing', async () => {
    const before = await snapshot();
    const handle = retentionHandler(deps({ catalog: failingCatalog(stack.catalog) }), defaults);
    await expect(handle({ sweep: true })).rejects.toMatchObject({ code: 'CATALOG_FAILED' });
    expect(stack.alerts.published.map((alert) => alert.type)).toEqual(['RETENTION_FAILED']);
    expect(await snapshot()).toEqual(before);
  });

  it('applies the plan of the new backup\'s database only, and a repeated event changes nothing', async () => {
    const event = snsEvent([taken.appNewest!.manifestKey]);
    const first = await retentionHandler(deps(), defaults)(event);
    expect(first.trigger).toBe('object-created');
    expect(first.runs).toEqual([expect.objectContaining({ database: 'app', deleted: 1, kept: 1, failed: 0 })]);
    expect(first.runs[0]!.bytesFreed).toBeGreaterThan(0);
    expect(await ids()).toEqual([taken.appNewest!.id, taken.legacyMiddle!.id, taken.legacyNewest!.id, taken.legacyOld!.id].sort());
    expect(await keysUnder(stack.storage, `logical/daily/app/${taken.appOld!.id}/`)).toEqual([]);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'retention decision', attributes: expect.objectContaining({ backupId: taken.appOld!.id, action: 'delete', rule: 'PAST_WINDOW' }) }));

    const after = await snapshot();
    const again = await retentionHandler(deps(), defaults)(event);
    expect(again.runs).toEqual([expect.objectContaining({ database: 'app', deleted: 0, kept: 1, skipped: 0, failed: 0, bytesFreed: 0 })]);
    expect(await snapshot()).toEqual(after);
    expect(stack.alerts.published).toEqual([]);
  });

  it('sweeps every database on the daily schedule, and again finds nothing to do', async () => {
    const first = await retentionHandler(deps(), defaults)({ sweep: true });
    expect(first).toMatchObject({ trigger: 'sweep', ignored: [] });
    expect(first.runs).toEqual([expect.objectContaining({ database: '*', deleted: 2, kept: 2, failed: 0 })]);
    // legacy's newest VERIFIED backup is kept however old (NEWEST_VERIFIED).
    expect(await ids()).toEqual([taken.appNewest!.id, taken.legacyNewest!.id].sort());
    const after = await snapshot();
    const scheduled = { version: '0', id: 'e-1', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: NOW.toISOString(), region: 'us-east-1', resources: ['arn:aws:events:us-east-1:123456789012:rule/strongbox-dev-retention'], detail: {} };
    const again = await retentionHandler(deps(), defaults)(scheduled);
    expect(again.runs).toEqual([expect.objectContaining({ database: '*', deleted: 0, kept: 2 })]);
    expect(await snapshot()).toEqual(after);
    expect(stack.alerts.published).toEqual([]);
  });

  it('alerts a failed deletion once, leaves the entry marked, and the next event finishes it', async () => {
    const old = await backupAt('appOlder', 60, 'daily');
    const event = snsEvent([taken.appNewest!.manifestKey]);
    const failed = await retentionHandler(deps({ storage: undeletable(stack.storage) }), defaults)(event);
    expect(failed.runs).toEqual([expect.objectContaining({ database: 'app', deleted: 0, failed: 1 })]);
    expect(failed.error).toBeUndefined();
    expect(stack.alerts.published.map((alert) => [alert.type, alert.backupId])).toEqual([['RETENTION_FAILED', old.id]]);
    expect((await stack.catalog.get(old.id))?.deleting).toMatchObject({ rule: 'PAST_WINDOW' });

    const finished = await retentionHandler(deps(), defaults)(event);
    expect(finished.runs).toEqual([expect.objectContaining({ database: 'app', deleted: 1, failed: 0 })]);
    expect(await stack.catalog.get(old.id)).toBeUndefined();
    expect(await keysUnder(stack.storage, `logical/daily/app/${old.id}/`)).toEqual([]);
  });
});
