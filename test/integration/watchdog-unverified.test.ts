import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { watchdogFromEnv } from '../../functions/watchdog';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry } from '../../shared/domain/backup';
import { backupKeys } from '../../shared/domain/keys';
import { MANIFEST_FORMAT_VERSION, serializeManifest, type Manifest } from '../../shared/domain/manifest';
import { parseObjectCreatedEvent } from '../../shared/domain/object-event';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../shared/local/dynalite-server';
import { localReverifier } from '../../shared/local/object-events';
import type { Reverifier } from '../../shared/ports';
import { settleUnverified } from '../../shared/usecases/watchdog';
import { captureLog, type CapturedLog } from '../support/stack';

const HOUR = 3_600_000;
const UPLOADED_AT = new Date('2026-12-04T03:10:00.000Z');

let dynalite: DynaliteServer;
let dir: string;
let catalog: Catalog;
let storage: Storage;
let alerts: ConsoleAlertPublisher;
let log: CapturedLog;
let now: Date;
const clock = () => now;

/** An UPLOADED logical backup of `app` whose dump (and globals) and manifest are stored as `objects` says. */
async function uploaded(id: string, objects: { manifest?: boolean; dump?: boolean; globals?: boolean } = {}): Promise<BackupEntry> {
  const keys = backupKeys('logical', 'daily', 'app', id, 'gzip');
  const dump = Buffer.from(`dump of ${id}`);
  const sha256 = createHash('sha256').update(dump).digest('hex');
  const entry: BackupEntry = {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'UPLOADED',
    key: keys.dump,
    manifestKey: keys.manifest,
    globalsKey: keys.globals,
    compression: 'gzip',
    bytes: dump.length + 4,
    sha256,
    startedAt: new Date(UPLOADED_AT.getTime() - 600_000).toISOString(),
    finishedAt: UPLOADED_AT.toISOString(),
    heartbeatAt: UPLOADED_AT.toISOString(),
  };
  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    compression: 'gzip',
    startedAt: entry.startedAt,
    finishedAt: entry.finishedAt!,
    source: { pgDatabase: 'app', serverVersion: '15.18', serverVersionNum: 150018, systemIdentifier: '7311234567890123456', walLsn: '0/3000000', databaseSizeBytes: 1000 },
    tools: { strongbox: 'test', pgDump: '15.18' },
    tables: [{ schema: 'public', name: 'orders', rows: 3 }],
    objects: { dump: { key: keys.dump, bytes: dump.length, sha256 }, globals: { key: keys.globals, bytes: 4, sha256: createHash('sha256').update('role').digest('hex'), includesRolePasswords: false } },
  };
  if (objects.dump !== false) await storage.putBytes(keys.dump, dump);
  if (objects.globals !== false) await storage.putBytes(keys.globals, 'role');
  if (objects.manifest !== false) await storage.putBytes(keys.manifest, serializeManifest(manifest));
  expect(await catalog.create(entry)).toBe(true);
  return entry;
}

/** A reverifier whose requests are lost (a dropped event, a checksum that times out every time). */
function lostRequests(): Reverifier & { asked: string[] } {
  const asked: string[] = [];
  return { asked, reverify: async (key) => void asked.push(key) };
}

beforeAll(async () => {
  dynalite = await startDynalite({});
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  dir = await mkdtemp(join(tmpdir(), 'sbx-watchdog-'));
  storage = new FolderStorage(dir);
});
afterAll(async () => {
  await dynalite?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  alerts = new ConsoleAlertPublisher(() => undefined);
  log = captureLog();
  now = new Date(UPLOADED_AT.getTime() + 30 * 60_000);
});

const deps = (reverifier?: Reverifier) => ({ catalog, storage, alerts, log, clock, ...(reverifier ? { reverifier } : {}) });

describe('watchdog: UPLOADED entries that are not VERIFIED in time', () => {
  it('re-verifies an overdue entry whose objects are there: it ends VERIFIED (local mode: the checksum handler in-process)', async () => {
    // Prepare
    const entry = await uploaded('20261204T030000Z-l-reveri');
    const reverifier = localReverifier({ storage, catalog, alerts, log, clock });
    // Act: within the hour, nothing; past it, verified again
    const early = await settleUnverified(deps(reverifier));
    now = new Date(UPLOADED_AT.getTime() + HOUR);
    const late = await settleUnverified(deps(reverifier));
    // Assess
    expect(early).toEqual({ reverified: [], failed: [] });
    expect(late).toEqual({ reverified: [entry.id], failed: [] });
    expect(await catalog.get(entry.id)).toMatchObject({ state: 'VERIFIED', reverify: { at: now.toISOString(), attempts: 1 } });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'unverified backup: verification asked again', attributes: expect.objectContaining({ backupId: entry.id, attempt: 1, overdueSince: UPLOADED_AT.toISOString() }) }));
    expect(alerts.published).toEqual([]);
  });

  it('asks twice an hour apart, then marks it FAILED (VERIFY_TIMEOUT) with a BACKUP_UNVERIFIED alert', async () => {
    // Prepare
    const entry = await uploaded('20261204T030000Z-l-timeou');
    const reverifier = lostRequests();
    // Act: at +1 h, +2 h and +3 h
    const outcomes = [];
    for (const hours of [1, 2, 3]) {
      now = new Date(UPLOADED_AT.getTime() + hours * HOUR);
      outcomes.push(await settleUnverified(deps(reverifier)));
    }
    // Assess
    expect(reverifier.asked).toEqual([entry.manifestKey, entry.manifestKey]);
    expect(outcomes.map((o) => o.reverified)).toEqual([[entry.id], [entry.id], []]);
    const failed = await catalog.get(entry.id);
    expect(failed).toMatchObject({ state: 'FAILED', errorCode: 'VERIFY_TIMEOUT', reason: expect.stringMatching(/not VERIFIED 3\.0 h after its upload ended .*asked again 2 time/) });
    expect(alerts.published).toEqual([
      expect.objectContaining({ type: 'BACKUP_UNVERIFIED', severity: 'SEV2', backupId: entry.id, database: 'app', code: 'VERIFY_TIMEOUT', hint: expect.stringMatching(/dead-letter queue/) }),
    ]);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'unverified backup marked FAILED', attributes: expect.objectContaining({ backupId: entry.id, code: 'VERIFY_TIMEOUT' }) }));
    // A later run finds nothing more to do
    now = new Date(UPLOADED_AT.getTime() + 10 * HOUR);
    expect(await settleUnverified(deps(reverifier))).toEqual({ reverified: [], failed: [] });
  });

  it('marks FAILED at once, naming what is missing, when the manifest or the dump is gone', async () => {
    // Prepare
    const noManifest = await uploaded('20261204T030000Z-l-nomani', { manifest: false });
    const noDump = await uploaded('20261204T030000Z-l-nodump', { dump: false, globals: false });
    const reverifier = lostRequests();
    now = new Date(UPLOADED_AT.getTime() + HOUR);
    // Act
    const outcome = await settleUnverified(deps(reverifier));
    // Assess
    expect(reverifier.asked).toEqual([]);
    expect(outcome.failed.map((e) => e.id).sort()).toEqual([noDump.id, noManifest.id]);
    expect(await catalog.get(noManifest.id)).toMatchObject({ state: 'FAILED', errorCode: 'OBJECT_NOT_FOUND', reason: `UPLOADED but never verified, and storage lacks its manifest (${noManifest.manifestKey})` });
    expect((await catalog.get(noDump.id))?.reason).toBe(`UPLOADED but never verified, and storage lacks its dump (${noDump.key}), globals (${noDump.globalsKey})`);
    expect(alerts.published.map((a) => [a.type, a.backupId, a.code])).toEqual(
      expect.arrayContaining([
        ['BACKUP_INCOMPLETE', noManifest.id, 'OBJECT_NOT_FOUND'],
        ['BACKUP_INCOMPLETE', noDump.id, 'OBJECT_NOT_FOUND'],
      ]),
    );
    expect(alerts.published).toHaveLength(2);
  });

  it('leaves alone an entry that a late checksum verified while the watchdog was deciding', async () => {
    // Prepare: the verification lands between the watchdog's listing and its failing the entry
    const entry = await uploaded('20261204T030000Z-l-raceok');
    await catalog.update(entry.id, { reverify: { at: new Date(UPLOADED_AT.getTime() + 2 * HOUR).toISOString(), attempts: 2 } });
    const racing: Storage = Object.assign(Object.create(storage) as Storage, {
      head: async (key: string) => {
        if (key === entry.manifestKey) await catalog.transition(entry.id, 'VERIFIED', {});
        return storage.head(key);
      },
    });
    now = new Date(UPLOADED_AT.getTime() + 3 * HOUR);
    // Act
    const outcome = await settleUnverified({ ...deps(lostRequests()), storage: racing });
    // Assess
    expect(outcome.failed).toEqual([]);
    expect((await catalog.get(entry.id))?.state).toBe('VERIFIED');
    expect(alerts.published).toEqual([]);
  });

  it('in AWS asks again by publishing the manifest\'s ObjectCreated event to the object-created topic (the exact command)', async () => {
    // Prepare
    const entry = await uploaded('20261204T030000Z-l-awssns');
    const sns = new SNSClient({ region: 'eu-west-1' });
    const mock = mockClient(sns);
    mock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const topic = 'arn:aws:sns:eu-west-1:123456789012:strongbox-prod-object-created';
    const env = { STRONGBOX_OBJECT_CREATED_TOPIC_ARN: topic, STRONGBOX_BUCKET: storage.bucket, STRONGBOX_VERIFY_WITHIN_SECONDS: '3600', AWS_REGION: 'eu-west-1' };
    now = new Date(UPLOADED_AT.getTime() + HOUR);
    try {
      // Act
      const result = await watchdogFromEnv(env, deps(), sns)();
      // Assess
      expect(result).toEqual({ failed: [], unverified: [], reverified: [entry.id] });
      const sent = mock.commandCalls(PublishCommand).map((call) => call.args[0].input);
      expect(sent).toEqual([{ TopicArn: topic, Message: expect.any(String) }]);
      expect(parseObjectCreatedEvent({ Records: [{ EventSource: 'aws:sns', Sns: { Message: sent[0]!.Message } }] })).toEqual([
        expect.objectContaining({ bucket: storage.bucket, key: entry.manifestKey }),
      ]);
    } finally {
      mock.restore();
      await catalog.transition(entry.id, 'FAILED', { reason: 'test cleanup' });
    }
  });

  it('without the topic it says it cannot ask again, and still fails the entry in bounded time', async () => {
    // Prepare
    const entry = await uploaded('20261204T030000Z-l-notopc');
    const env = { STRONGBOX_BUCKET: storage.bucket, STRONGBOX_VERIFY_WITHIN_SECONDS: 'not a number' };
    // Act: the default policy (1 h, twice) applies
    for (const hours of [1, 2, 3]) {
      now = new Date(UPLOADED_AT.getTime() + hours * HOUR);
      await watchdogFromEnv(env, deps())();
    }
    // Assess
    expect(log.lines.filter((line) => line.message.startsWith('unverified backup: no way to ask')).map((line) => line.attributes?.attempt)).toEqual([1, 2]);
    expect(await catalog.get(entry.id)).toMatchObject({ state: 'FAILED', errorCode: 'VERIFY_TIMEOUT' });
  });
});
