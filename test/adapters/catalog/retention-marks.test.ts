import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../../shared/adapters/catalog';
import { BackupNotFoundError, ConflictError } from '../../../shared/errors';
import { ensureCatalogTable, startDynalite, type DynaliteServer } from '../../../shared/local/dynalite-server';
import { backupEntry, minute } from './entries';

let server: DynaliteServer;
let client: DynamoDBClient;
let catalog: DynamoCatalog;

beforeAll(async () => {
  server = await startDynalite({});
  client = makeDynamoClient({ endpoint: server.endpoint });
  await ensureCatalogTable(client, 'marks');
  catalog = new DynamoCatalog(toDocumentClient(client), 'marks');
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

const MARK = { at: minute(10), rule: 'PAST_WINDOW' };

describe('DynamoCatalog.markDeleting', () => {
  it('marks an entry still in the state the plan saw', async () => {
    // Prepare
    await catalog.create(backupEntry('m-1', { state: 'VERIFIED' }));
    // Act
    const marked = await catalog.markDeleting('m-1', 'VERIFIED', MARK);
    // Assess
    expect(marked).toMatchObject({ id: 'm-1', state: 'VERIFIED', deleting: MARK });
    expect(marked).not.toHaveProperty('pk');
    expect(await catalog.get('m-1')).toStrictEqual(marked);
  });

  it('is idempotent: a second mark returns the entry with its first mark', async () => {
    // Prepare
    await catalog.create(backupEntry('m-2', { state: 'FAILED' }));
    await catalog.markDeleting('m-2', 'FAILED', MARK);
    // Act
    const again = await catalog.markDeleting('m-2', 'FAILED', { at: minute(20), rule: 'FAILED_EXPIRED' });
    // Assess
    expect(again.deleting).toEqual(MARK);
  });

  it('refuses with a ConflictError when the state changed since the plan, and leaves the entry unmarked', async () => {
    // Prepare
    await catalog.create(backupEntry('m-3', { state: 'VERIFIED' }));
    await catalog.transition('m-3', 'FAILED', { reason: 'checksum mismatch on a later check' });
    // Act
    const error = await rejection(catalog.markDeleting('m-3', 'VERIFIED', MARK));
    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toContain('FAILED');
    expect((error as ConflictError).hint).toMatch(/retention again/);
    expect((await catalog.get('m-3'))?.deleting).toBeUndefined();
  });

  it('throws BackupNotFoundError for an entry that is gone', async () => {
    expect(await rejection(catalog.markDeleting('m-missing', 'VERIFIED', MARK))).toBeInstanceOf(BackupNotFoundError);
  });

  it('cannot be set or cleared through update or transition: only markDeleting writes it', async () => {
    // Prepare
    await catalog.create(backupEntry('m-4', { state: 'UPLOADED' }));
    await catalog.create(backupEntry('m-5', { state: 'VERIFIED' }));
    await catalog.markDeleting('m-5', 'VERIFIED', MARK);
    // Act
    await catalog.update('m-4', { deleting: MARK, bytes: 10 });
    await catalog.transition('m-4', 'VERIFIED', { deleting: MARK });
    await catalog.update('m-5', { deleting: undefined, bytes: 20 });
    // Assess
    expect(await catalog.get('m-4')).toMatchObject({ state: 'VERIFIED', bytes: 10 });
    expect((await catalog.get('m-4'))?.deleting).toBeUndefined();
    expect(await catalog.get('m-5')).toMatchObject({ bytes: 20, deleting: MARK });
  });
});

describe('DynamoCatalog.remove', () => {
  it('deletes a marked entry from the item and from every index, once', async () => {
    // Prepare
    await catalog.create(backupEntry('r-1', { state: 'VERIFIED', database: 'removals', startedAt: minute(1) }));
    await catalog.create(backupEntry('r-2', { state: 'VERIFIED', database: 'removals', startedAt: minute(2) }));
    await catalog.markDeleting('r-1', 'VERIFIED', MARK);
    // Act
    const first = await catalog.remove('r-1');
    const second = await catalog.remove('r-1');
    // Assess
    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(await catalog.get('r-1')).toBeUndefined();
    expect((await catalog.listByDatabase('removals')).map((entry) => entry.id)).toEqual(['r-2']);
    expect((await catalog.listByState('VERIFIED')).map((entry) => entry.id)).not.toContain('r-1');
  });

  it('refuses an entry that is not marked, and keeps it', async () => {
    // Prepare
    await catalog.create(backupEntry('r-3', { state: 'VERIFIED' }));
    // Act
    const error = await rejection(catalog.remove('r-3'));
    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toContain('not marked');
    expect(await catalog.get('r-3')).toMatchObject({ id: 'r-3', state: 'VERIFIED' });
  });

  it('answers false for an id that never existed', async () => {
    expect(await catalog.remove('r-never')).toBe(false);
  });
});
