/**
 * Every alert is bounded (issue 16 point 5): a retention run with 1,000 failed deletions
 * (1,000 old backups in dynalite, storage refusing every delete) publishes one
 * RETENTION_FAILED through the real SNS publisher (mocked client: the exact command) under
 * SNS's 256 KB, and the Slack message made of it stays within Slack's limits. A producer
 * that ignores the rule is clipped by the publisher rather than losing the alert.
 */
import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { SnsAlertPublisher } from '../../shared/adapters/sns/alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { Storage } from '../../shared/ports/storage';
import { ALERT_LIMITS, byteLength, SNS_MESSAGE_MAX_BYTES } from '../../shared/domain/alerts/bounded';
import { slackMessage } from '../../shared/domain/alerts/slack-message';
import type { BackupEntry } from '../../shared/domain/backup';
import { DEFAULT_RETENTION_POLICY } from '../../shared/domain/retention';
import { LOCAL_TABLE, localCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { StorageError } from '../../shared/errors';
import type { Alert } from '../../shared/ports';
import { applyRetention } from '../../shared/usecases/retention';
import { captureLog } from '../support/stack';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');
const FAILURES = 1_000;
const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-test-alerts';

let stopDynalite: (() => Promise<void>) | undefined;
let repository: string;
let catalog: Catalog;

/** A daily backup of `app` taken `daysAgo` days before NOW, VERIFIED. */
function entryAt(index: number, daysAgo: number): BackupEntry {
  const at = new Date(NOW.getTime() - daysAgo * DAY - index * 1000).toISOString();
  const id = `app-${at.replace(/[-:.]/g, '')}-${String(index).padStart(4, '0')}`;
  return {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: `logical/daily/app/${id}/dump.pgdump`,
    manifestKey: `logical/daily/app/${id}/manifest.json`,
    compression: 'gzip',
    bytes: 1000,
    startedAt: at,
    finishedAt: at,
    heartbeatAt: at,
  };
}

/** The repository with every delete refused, as S3 would without s3:DeleteObject. */
function undeletable(storage: Storage): Storage {
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'delete') return async (keys: string[]) => Promise.reject(new StorageError(`AccessDenied on DeleteObjects of ${keys.join(', ')}: not authorized to perform s3:DeleteObject on this resource because no identity-based policy allows it`, 'grant s3:DeleteObject'));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

beforeAll(async () => {
  const dynalite = await startDynalite({});
  stopDynalite = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  repository = await mkdtemp(join(tmpdir(), 'sbx-alert-bounds-'));
  await catalog.create(entryAt(0, 0));
  for (let start = 0; start < FAILURES; start += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, offset) => catalog.create(entryAt(start + offset + 1, 60))));
  }
}, 120_000);

afterAll(async () => {
  await stopDynalite?.();
  if (repository) await rm(repository, { recursive: true, force: true });
});

beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

/** The bytes SNS counts for a publish: the body and every attribute's name, type and value. */
function snsBytes(input: PublishCommandInput): number {
  const attributes = Object.entries(input.MessageAttributes ?? {}).reduce((sum, [name, value]) => sum + byteLength(name) + byteLength(value.DataType ?? '') + byteLength(value.StringValue ?? ''), 0);
  return byteLength(input.Message ?? '') + attributes;
}

function published(): PublishCommandInput[] {
  return snsMock.commandCalls(PublishCommand).map((call) => call.args[0].input);
}

/** Slack's limits on what notifySlack posts: text 40,000 characters, header 150, section 3,000, a field 2,000, 50 blocks. */
function expectWithinSlackLimits(alert: Alert): void {
  const message = slackMessage(alert, { mode: 'aws', stage: 'test' });
  expect(message.text.length).toBeLessThanOrEqual(40_000);
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  for (const block of message.blocks) {
    if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(150);
    if (block.type === 'section' && 'text' in block) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    if (block.type === 'section' && 'fields' in block) for (const field of block.fields) expect(field.text.length).toBeLessThanOrEqual(2000);
  }
}

describe('bounded alerts', () => {
  it('a retention run with 1,000 failed deletions publishes one RETENTION_FAILED under 256 KB, summarised', async () => {
    // Prepare
    const log = captureLog();
    const alerts = new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log);
    const storage = undeletable(new FolderStorage(repository));
    // Act
    const report = await applyRetention({ storage, catalog, alerts, log, clock: () => NOW }, { policy: DEFAULT_RETENTION_POLICY, dryRun: false });
    // Assess
    expect(report.failed).toHaveLength(FAILURES);
    const [sent, ...others] = published();
    expect(others).toEqual([]);
    expect(log.lines.filter((line) => line.message === 'alert could not be published')).toEqual([]);
    expect(snsBytes(sent!)).toBeLessThan(SNS_MESSAGE_MAX_BYTES);
    expect(byteLength(sent!.Message!)).toBeLessThan(ALERT_LIMITS.messageBytes * 2);
    const alert = JSON.parse(sent!.Message!) as Alert;
    expect(alert).toMatchObject({ type: 'RETENTION_FAILED', severity: 'SEV3', code: 'STORAGE_FAILED' });
    expect(alert.message).toMatch(/^retention could not delete 1000 item\(s\): app-/);
    expect(alert.message).toContain(`… and ${FAILURES - 10} more (each failure is logged`);
    expect(log.lines.filter((line) => line.message === 'retention deletion failed')).toHaveLength(FAILURES);
    expectWithinSlackLimits(alert);
    console.log(`RETENTION_FAILED of ${FAILURES} failures: ${snsBytes(sent!)} bytes published to SNS (limit ${SNS_MESSAGE_MAX_BYTES})`);
  }, 300_000);

  it('an unbounded alert from any producer is clipped by the publisher, not lost: 1 MB of message, multibyte and escapes', async () => {
    // Prepare
    const log = captureLog();
    const alerts = new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, log);
    const huge = `${'é"\u0001'.repeat(350_000)}`;
    const raised: Alert = { type: 'RETENTION_FAILED', severity: 'SEV3', message: huge, hint: huge, database: 'd'.repeat(5_000), backupId: huge, code: 'STORAGE_FAILED', at: NOW.toISOString() };
    // Act
    await alerts.publish(raised);
    // Assess
    const [sent] = published();
    expect(snsBytes(sent!)).toBeLessThan(SNS_MESSAGE_MAX_BYTES);
    const alert = JSON.parse(sent!.Message!) as Alert;
    expect(byteLength(alert.message)).toBeLessThanOrEqual(ALERT_LIMITS.messageBytes);
    expect(huge.startsWith(alert.message.replace(/… \[\d+ more bytes cut: the full text is in the log of what raised it\]$/, ''))).toBe(true);
    expect(alert.message).toMatch(/… \[\d+ more bytes cut: the full text is in the log of what raised it\]$/);
    expect(byteLength(alert.hint!)).toBeLessThanOrEqual(ALERT_LIMITS.hintBytes);
    expect(byteLength(alert.database!)).toBeLessThanOrEqual(ALERT_LIMITS.fieldBytes);
    expect(byteLength(alert.backupId!)).toBeLessThanOrEqual(ALERT_LIMITS.fieldBytes);
    expect(sent!.MessageAttributes?.database?.StringValue).toBe(alert.database);
    expectWithinSlackLimits(raised);
  });

  it('a small alert travels unchanged', async () => {
    // Prepare
    const alerts = new SnsAlertPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC, captureLog());
    const raised: Alert = { type: 'BACKUP_FAILED', severity: 'SEV2', message: 'pg_dump exited 1', hint: 'check the database', database: 'app', at: NOW.toISOString() };
    // Act
    await alerts.publish(raised);
    // Assess
    expect(JSON.parse(published()[0]!.Message!)).toEqual(raised);
  });
});
