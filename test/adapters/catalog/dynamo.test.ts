import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../../shared/adapters/catalog';
import type { BackupEntry } from '../../../shared/domain/backup';
import { BackupNotFoundError, ConflictError } from '../../../shared/errors';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../../shared/local/dynalite-server';
import { backupEntry, minute } from './entries';

let server: DynaliteServer;
let client: DynamoDBClient;
let catalog: DynamoCatalog;

beforeAll(async () => {
  server = await startDynalite({});
  client = makeDynamoClient({ endpoint: server.endpoint });
  await ensureCatalogTable(client, 'entries');
  catalog = new DynamoCatalog(toDocumentClient(client), 'entries');
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('DynamoCatalog entries', () => {
  it('creates an entry once and reads it back without the table helpers', async () => {
    // Prepare
    const original = backupEntry('c-1', { tables: ['public.orders'], scope: 'tables', runner: 'pid:1@host', reason: undefined });
    // Act
    const first = await catalog.create(original);
    const second = await catalog.create(backupEntry('c-1', { database: 'other', key: 'overwritten' }));
    const read = await catalog.get('c-1');
    // Assess
    expect(first).toBe(true);
    expect(second).toBe(false);
    const { reason: _omitted, ...expected } = original;
    expect(read).toStrictEqual(expected);
  });

  it('answers undefined for a missing id', async () => {
    expect(await catalog.get('no-such-id')).toBeUndefined();
  });

  it('moves RUNNING → UPLOADED → VERIFIED and sets the changes', async () => {
    // Prepare
    await catalog.create(backupEntry('t-1'));
    // Act
    const uploaded = await catalog.transition('t-1', 'UPLOADED', { bytes: 1234, sha256: 'ab'.repeat(32), finishedAt: minute(3) });
    const verified = await catalog.transition('t-1', 'VERIFIED');
    // Assess
    expect(uploaded).toMatchObject({ id: 't-1', state: 'UPLOADED', bytes: 1234, finishedAt: minute(3) });
    expect(verified).toMatchObject({ state: 'VERIFIED', bytes: 1234, sha256: 'ab'.repeat(32) });
    expect(verified).not.toHaveProperty('pk');
    expect(verified).not.toHaveProperty('gsiSort');
    expect(await catalog.get('t-1')).toStrictEqual(verified);
  });

  it.each([
    ['FAILED', 'VERIFIED'],
    ['VERIFIED', 'UPLOADED'],
    ['UPLOADED', 'RUNNING'],
  ] as const)('refuses %s → %s with a ConflictError naming both states', async (from, to) => {
    // Prepare
    const id = `illegal-${from}-${to}`;
    await catalog.create(backupEntry(id, { state: from }));
    // Act
    const error = await rejection(catalog.transition(id, to, { reason: 'should not be written' }));
    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect((error as Error).message).toContain(from);
    expect((error as Error).message).toContain(to);
    expect(await catalog.get(id)).toMatchObject({ state: from });
    expect(await catalog.get(id)).not.toHaveProperty('reason');
  });

  it('throws BackupNotFoundError for a transition or an update of a missing id', async () => {
    const moved = await rejection(catalog.transition('ghost', 'FAILED', { reason: 'x' }));
    const updated = await rejection(catalog.update('ghost', { bytes: 1 }));
    const emptyUpdate = await rejection(catalog.update('ghost', {}));
    expect(moved).toBeInstanceOf(BackupNotFoundError);
    expect(updated).toBeInstanceOf(BackupNotFoundError);
    expect(emptyUpdate).toBeInstanceOf(BackupNotFoundError);
    expect(moved).toMatchObject({ code: 'BACKUP_NOT_FOUND' });
    expect(await catalog.get('ghost')).toBeUndefined();
  });

  it('lets exactly one of two concurrent writers of the same final state win', async () => {
    for (let round = 0; round < 8; round += 1) {
      // Prepare
      const id = `race-same-${round}`;
      await catalog.create(backupEntry(id, { state: 'UPLOADED' }));
      // Act
      const results = await Promise.allSettled([catalog.transition(id, 'VERIFIED', { runner: 'a' }), catalog.transition(id, 'VERIFIED', { runner: 'b' })]);
      // Assess
      const won = results.filter((result) => result.status === 'fulfilled');
      const lost = results.filter((result) => result.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      const winner = (won[0] as PromiseFulfilledResult<BackupEntry>).value;
      expect(await catalog.get(id)).toMatchObject({ state: 'VERIFIED', runner: winner.runner });
    }
  });

  it('ends VERIFIED-vs-FAILED races FAILED, and the late VERIFIED conflicts', async () => {
    for (let round = 0; round < 8; round += 1) {
      // Prepare
      const id = `race-mixed-${round}`;
      await catalog.create(backupEntry(id, { state: 'UPLOADED' }));
      // Act
      const [verified, failed] = await Promise.allSettled([catalog.transition(id, 'VERIFIED'), catalog.transition(id, 'FAILED', { reason: 'checksum' })]);
      // Assess: VERIFIED may still fail later (a checksum), so only FAILED-then-VERIFIED conflicts.
      expect(failed?.status).toBe('fulfilled');
      if (verified?.status === 'rejected') expect(verified.reason).toBeInstanceOf(ConflictError);
      expect(await catalog.get(id)).toMatchObject({ state: 'FAILED', reason: 'checksum' });
    }
  });

  it('records heartbeats only while RUNNING', async () => {
    // Prepare
    await catalog.create(backupEntry('hb-1'));
    // Act
    const alive = await catalog.heartbeat('hb-1', minute(5));
    await catalog.transition('hb-1', 'FAILED', { reason: 'killed' });
    const afterFailure = await catalog.heartbeat('hb-1', minute(9));
    const missing = await catalog.heartbeat('hb-missing', minute(9));
    // Assess
    expect(alive).toBe(true);
    expect(afterFailure).toBe(false);
    expect(missing).toBe(false);
    expect(await catalog.get('hb-1')).toMatchObject({ state: 'FAILED', heartbeatAt: minute(5) });
    expect(await catalog.get('hb-missing')).toBeUndefined();
  });

  it('updates attributes, keeps the state, and round-trips lastValidation', async () => {
    // Prepare
    await catalog.create(backupEntry('u-1', { state: 'VERIFIED', bytes: 10 }));
    const lastValidation = { at: minute(7), ok: false, seconds: 12.5, reason: 'restore failed: relation missing' };
    // Act
    const updated = await catalog.update('u-1', { lastValidation, runner: 'arn:aws:ecs:task/1', bytes: undefined });
    // Assess
    expect(updated).toMatchObject({ state: 'VERIFIED', bytes: 10, runner: 'arn:aws:ecs:task/1' });
    expect((await catalog.get('u-1'))?.lastValidation).toStrictEqual(lastValidation);
  });
});

describe('DynamoCatalog locks', () => {
  it('gives a lock to one owner at a time', async () => {
    // Act
    const first = await catalog.acquireLock('logical:app', 'backup-1', minute(1));
    const second = await catalog.acquireLock('logical:app', 'backup-2', minute(2));
    const wrongProof = await catalog.acquireLock('logical:app', 'backup-2', minute(2), 'backup-0');
    // Assess
    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(wrongProof).toBe(false);
    expect(await catalog.getLock('logical:app')).toStrictEqual({ name: 'logical:app', owner: 'backup-1', acquiredAt: minute(1) });
  });

  it('hands the lock over when the caller proves the holder finished', async () => {
    // Prepare
    await catalog.acquireLock('logical:replaced', 'backup-1', minute(1));
    // Act
    const replaced = await catalog.acquireLock('logical:replaced', 'backup-2', minute(4), 'backup-1');
    // Assess
    expect(replaced).toBe(true);
    expect(await catalog.getLock('logical:replaced')).toMatchObject({ owner: 'backup-2', acquiredAt: minute(4) });
  });

  it('releases only for its owner', async () => {
    // Prepare
    await catalog.acquireLock('logical:release', 'backup-1', minute(1));
    // Act
    await catalog.releaseLock('logical:release', 'backup-9');
    const afterStranger = await catalog.getLock('logical:release');
    await catalog.releaseLock('logical:release', 'backup-1');
    const afterOwner = await catalog.getLock('logical:release');
    await catalog.releaseLock('logical:release', 'backup-1');
    const retaken = await catalog.acquireLock('logical:release', 'backup-3', minute(2));
    // Assess
    expect(afterStranger?.owner).toBe('backup-1');
    expect(afterOwner).toBeUndefined();
    expect(retaken).toBe(true);
    expect(await catalog.getLock('never-taken')).toBeUndefined();
  });

  it('keeps lock items out of the backup lists', async () => {
    await catalog.acquireLock('logical:listed', 'backup-1', minute(1));
    const all = await catalog.listAll();
    expect(all.length).toBeGreaterThan(0);
    expect(all.every((entry) => typeof entry.id === 'string' && entry.key !== undefined)).toBe(true);
  });
});
