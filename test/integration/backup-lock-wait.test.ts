/**
 * A logical backup never waits forever for a table lock (found by `npm run chaos`,
 * docs/reliability.md): a migration's ALTER TABLE queued behind the backup's snapshot, and
 * pg_dump's LOCK TABLE queued behind the ALTER, wait on each other outside PostgreSQL's
 * deadlock detector. Here a session holds the table's ACCESS EXCLUSIVE lock (as an ALTER in
 * progress does): the backup gives up after its lock wait, cleanly, instead of blocking.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../shared/adapters/postgres/client';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { keysUnder, startStack, type Stack } from '../support/stack';

let stack: Stack;
let holder: pg.Client | undefined;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 100 });
  await stack.pg.cluster.psql('CREATE TABLE migrating (id int PRIMARY KEY, note text); INSERT INTO migrating SELECT g, md5(g::text) FROM generate_series(1, 100) g;', stack.conn.database);
}, 120_000);

afterAll(async () => {
  await holder?.end().catch(() => undefined);
  await stack?.stop();
});

describe('a logical backup and a migration holding a table lock', () => {
  it('gives up after its lock wait with DUMP_LOCK_TIMEOUT: FAILED, nothing stored, the table free again', async () => {
    holder = new pg.Client(clientConfig(stack.conn));
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE migrating IN ACCESS EXCLUSIVE MODE');
    const before = await keysUnder(stack.storage, 'logical/');

    const result = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test', lockWaitSeconds: 1 }).catch((error: unknown) => error);

    expect(result).toMatchObject({ code: 'DUMP_LOCK_TIMEOUT', hint: expect.stringContaining('migration') });
    expect(await keysUnder(stack.storage, 'logical/')).toEqual(before);
    const failed = (await stack.catalog.listByDatabase('app')).find((entry) => entry.state === 'FAILED' && entry.reason?.includes('table lock'));
    expect(failed).toBeDefined();
    // The migration goes on: nothing of the backup holds the table any more.
    await holder.query('ALTER TABLE migrating ADD COLUMN added int; COMMIT');
  }, 60_000);
});
