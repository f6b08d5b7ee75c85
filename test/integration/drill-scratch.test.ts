/**
 * The scratch recovery the physical drill and `restore-table --time` build on, on real
 * PostgreSQL: a cluster archiving through Strongbox, a base backup, marker rows; a scratch
 * recovered to the LSN between two markers pauses there readable (marker 1 only), moves on
 * to a later LSN (both markers), promotes, and is removed without a trace.
 */
import { mkdtemp, readdir, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../shared/adapters/postgres/client';
import type { PgConnection } from '../../shared/ports/postgres';
import { parseLsn } from '../../shared/domain/wal/names';
import { pgScratchServer } from '../../shared/runtime/scratch-tools';
import { recoverScratch } from '../../shared/usecases/scratch-recovery';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

let stack: WalStack;
let parent: string;
let between: string;
let after: string;

async function markers(conn: PgConnection): Promise<string> {
  const client = await connectClient(conn);
  try {
    const result = await client.query<{ ids: string | null }>("SELECT string_agg(id::text, ',' ORDER BY id) AS ids FROM markers");
    return result.rows[0]?.ids ?? '';
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  stack = await startWalStack();
  parent = await mkdtemp(join(tmpdir(), 'sbx-scratch-'));
  await chmod(parent, 0o755);
  const sql = (text: string) => stack.pg.cluster.psql(text);
  await sql('CREATE TABLE markers (id int PRIMARY KEY);');
  await stack.baseBackup();
  await sql('INSERT INTO markers VALUES (1);');
  between = (await sql('SELECT pg_current_wal_insert_lsn();')).trim();
  await sql('INSERT INTO markers VALUES (2);');
  after = (await sql('SELECT pg_current_wal_insert_lsn();')).trim();
  await sql('INSERT INTO markers VALUES (3);');
  await stack.switchAndWait();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe('scratch recovery', () => {
  it('pauses readable at an LSN, moves on to a later one, promotes and is removed', async () => {
    const scratch = await recoverScratch(
      { catalog: stack.catalog, walCatalog: stack.walCatalog, storage: stack.storage, log: stack.log, alerts: stack.alerts, clock: () => new Date(), server: pgScratchServer },
      { database: WAL_DATABASE, target: { type: 'lsn', lsn: parseLsn(between) }, exclusive: true, parentDir: parent, restoreCommand: stack.host.restoreCommand, timeoutMs: 120_000 },
    );
    try {
      expect(scratch.fetchSeconds).toBeGreaterThan(0);
      expect(scratch.replaySeconds).toBeGreaterThan(0);
      expect(await markers(scratch.connection('postgres'))).toBe('1');
      await scratch.advanceTo({ type: 'lsn', lsn: parseLsn(after) }, true);
      expect(await markers(scratch.connection('postgres'))).toBe('1,2');
      await scratch.promote();
      const client = await connectClient(scratch.connection('postgres'));
      try {
        expect((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0]).toEqual({ r: false });
        // Listening on its private socket only.
        expect((await client.query("SELECT current_setting('listen_addresses') AS l, current_setting('archive_mode') AS a")).rows[0]).toEqual({ l: '', a: 'off' });
      } finally {
        await client.end();
      }
    } finally {
      expect(await scratch.remove()).toBeUndefined();
    }
    expect(await readdir(parent)).toEqual([]);
  }, 240_000);

  it('asks as the fallback role when the first one does not exist (the task runs as OS user node)', async () => {
    const scratch = await recoverScratch(
      { catalog: stack.catalog, walCatalog: stack.walCatalog, storage: stack.storage, log: stack.log, alerts: stack.alerts, clock: () => new Date(), server: pgScratchServer },
      { database: WAL_DATABASE, target: { type: 'lsn', lsn: parseLsn(between) }, exclusive: true, parentDir: parent, restoreCommand: stack.host.restoreCommand, user: 'nobody_here', fallbackUser: 'postgres', timeoutMs: 120_000 },
    );
    try {
      expect(scratch.user).toBe('postgres');
      expect(scratch.binDir).toBe('/usr/lib/postgresql/15/bin');
      expect(await markers(scratch.connection('postgres'))).toBe('1');
    } finally {
      expect(await scratch.remove()).toBeUndefined();
    }
    expect(await readdir(parent)).toEqual([]);
  }, 240_000);

  it('a base backup of a major this machine lacks: PG_VERSION_MISMATCH with how to build the image, nothing written', async () => {
    // The catalog as it would read for a base backup of PostgreSQL 17 (this machine has the server of 15 only).
    const catalog = Object.create(stack.catalog) as typeof stack.catalog;
    catalog.listByDatabase = async (...args: Parameters<typeof stack.catalog.listByDatabase>) =>
      (await stack.catalog.listByDatabase(...args)).map((entry) => (entry.base ? { ...entry, base: { ...entry.base, pgVersion: 17 } } : entry));
    const failure = await recoverScratch(
      { catalog, walCatalog: stack.walCatalog, storage: stack.storage, log: stack.log, alerts: stack.alerts, clock: () => new Date(), server: pgScratchServer },
      { database: WAL_DATABASE, target: { type: 'lsn', lsn: parseLsn(between) }, exclusive: true, parentDir: parent, restoreCommand: stack.host.restoreCommand, timeoutMs: 120_000 },
    ).then(() => undefined, (error: unknown) => error as { code?: string; message: string; hint?: string });
    expect(failure).toMatchObject({ code: 'PG_VERSION_MISMATCH', message: expect.stringContaining('PostgreSQL 17') as unknown, hint: expect.stringContaining('PG_MAJORS="15 16 17 18"') as unknown });
    expect(await readdir(parent)).toEqual([]);
  });
});
