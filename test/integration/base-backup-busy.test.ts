/**
 * A base backup that a busy server cannot break (issue 15, point 5): `pg_basebackup -X fetch`
 * reads the WAL it needs at its end, which a busy server with a small wal_keep_size has
 * recycled by then; a temporary replication slot held for the backup keeps that WAL.
 * Reproduced by holding the backup's stream while the server writes and checkpoints well
 * past max_wal_size, with and without the reservation.
 */
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBaseBackupTools } from '../../shared/adapters/postgres/basebackup';
import { runBaseBackup, walSlotName, type BaseBackupDeps } from '../../shared/usecases/base-backup';
import type { BaseBackupTools } from '../../shared/ports/base-backup';
import { startTestCluster, type TestCluster } from '../support/pg';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let busy: TestCluster;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 10 });
  // No archiving, no WAL kept: a checkpoint recycles every segment before its redo point.
  busy = await startTestCluster({ settings: { wal_level: 'replica', max_wal_size: '32MB', min_wal_size: '32MB', wal_keep_size: '0', archive_mode: 'off' } });
  await busy.cluster.psql('CREATE TABLE churn (id bigserial, note text);');
}, 120_000);

afterAll(async () => {
  await busy?.stop();
  await stack?.stop();
});

/**
 * Writes well past max_wal_size and checkpoints, so the segments of a moment ago are recycled.
 * `untilRecycled`: goes on until the segment current when it began (the backup's start is in or
 * before it) is gone from pg_wal — an event, not a number of rounds a loaded host may not reach.
 */
async function churn(untilRecycled: boolean): Promise<void> {
  const first = (await busy.cluster.psql('SELECT pg_walfile_name(pg_current_wal_lsn());')).trim();
  for (let round = 0; round < 40; round += 1) {
    await busy.cluster.psql("INSERT INTO churn (note) SELECT md5(random()::text) || md5(random()::text) FROM generate_series(1, 150000); SELECT pg_switch_wal(); CHECKPOINT;");
    if (round < 3) continue;
    if (!untilRecycled) return;
    if ((await busy.cluster.psql(`SELECT count(*) FROM pg_ls_waldir() WHERE name = '${first}';`)).trim() === '0') return;
  }
  throw new Error(`${first} was never recycled: the test cannot show what it means to`);
}

/** The real tools, but the backup's stream held until the server has churned (pg_basebackup blocks on its pipe meanwhile). */
function heldTools(options: { reserve: boolean }): { tools: BaseBackupTools; slotsSeen: () => Promise<string> } {
  const tools: BaseBackupTools = {
    ...pgBaseBackupTools,
    ...(options.reserve ? {} : { reserveWal: undefined }),
    spawnBaseBackup(conn, spawnOptions) {
      const tool = pgBaseBackupTools.spawnBaseBackup(conn, spawnOptions);
      const held = new PassThrough();
      // The tool's stream fails with pg_basebackup (the case without a reservation): pass its
      // error on to what the backup reads, at any moment, so that none goes unhandled.
      tool.stdout.once('error', (error) => held.destroy(error));
      void churn(!options.reserve).then(
        () => void pipeline(tool.stdout, held).catch(() => undefined),
        (error: unknown) => held.destroy(error as Error),
      );
      return { ...tool, stdout: held };
    },
  };
  return { tools, slotsSeen: async () => (await busy.cluster.psql('SELECT string_agg(slot_name, \',\') FROM pg_replication_slots;')).trim() };
}

function deps(tools: BaseBackupTools): BaseBackupDeps {
  return { ...stack.deps, tools };
}

describe('a base backup on a busy server', () => {
  it('without a WAL reservation, the WAL it needs is recycled under it and it fails (what -X fetch alone does)', async () => {
    const { tools } = heldTools({ reserve: false });
    const entry = await runBaseBackup(deps(tools), { database: 'busy', connection: busy.conn, tier: 'manual', compression: 'zstd', runner: 'test' }).catch((error: unknown) => error);
    const failed = entry as { state?: string; reason?: string; message?: string };
    expect(`${failed.state ?? ''} ${failed.reason ?? ''} ${failed.message ?? ''}`).toMatch(/already been removed|requested WAL segment|COPY stream ended before last file was finished/i);
  }, 300_000);

  it('with a temporary slot held for the backup, it completes VERIFIED, and the slot is gone after', async () => {
    const { tools, slotsSeen } = heldTools({ reserve: true });
    const entry = await runBaseBackup(deps(tools), { database: 'busy', connection: busy.conn, tier: 'manual', compression: 'zstd', runner: 'test' });
    expect(entry.state).toBe('VERIFIED');
    expect(await slotsSeen()).toBe('');
  }, 300_000);

  it('names its slot after the backup, as PostgreSQL allows', () => {
    expect(walSlotName('20261204T030000Z-b-1A2b3C')).toBe('strongbox_20261204t030000z_b_1a2b3c');
    expect(walSlotName('x'.repeat(100))).toHaveLength(63);
  });
});
