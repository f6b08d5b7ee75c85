/**
 * The archive endpoint going away, on real PostgreSQL: while archiving under load
 * (PostgreSQL retries, nothing is lost, no gap), and during a recovery (recovery stops;
 * it never takes the outage for the end of WAL and promotes early).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../shared/adapters/postgres/cluster';
import { runAsServerUser } from '../../shared/adapters/postgres/process';
import { prepareEmptyDataDir, socketDirFor, startAndAwaitPromotion, unpackBaseBackup, writeRecoveryConfig } from '../../shared/adapters/postgres/recovery';
import { parseWalName } from '../../shared/domain/wal/names';
import { runPitr } from '../../shared/usecases/pitr';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

let stack: WalStack;
let scratch: string;

beforeAll(async () => {
  stack = await startWalStack();
  scratch = await mkdtemp(join(tmpdir(), 'sbx-outage-'));
  await chmod(scratch, 0o755);
  await stack.pg.cluster.psql('CREATE TABLE load (id bigserial PRIMARY KEY, v int NOT NULL);');
}, 60_000);

afterAll(async () => {
  await runAsServerUser('/usr/lib/postgresql/15/bin/pg_ctl', ['-D', join(scratch ?? '/nonexistent', 'recovered'), '-m', 'immediate', 'stop'], { cwd: '/' }).catch(() => undefined);
  await stack?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function archiver(): Promise<{ failed: number; last: string }> {
  const [failed, last] = (await stack.pg.cluster.psql('SELECT failed_count, coalesce(last_archived_wal, \'\') FROM pg_stat_archiver;')).trim().split('|');
  return { failed: Number(failed), last: last ?? '' };
}

describe('archive endpoint outage', () => {
  it('while archiving under load: PostgreSQL retries, and once the endpoint is back nothing is lost and there is no gap', async () => {
    const first = await stack.switchAndWait();
    await stack.stopEndpoint();
    const writes = (async () => {
      for (let round = 0; round < 6; round++) {
        await stack.pg.cluster.psql('INSERT INTO load (v) SELECT g FROM generate_series(1, 100000) g; SELECT pg_switch_wal();');
        await sleep(4_000);
      }
    })();
    await sleep(30_000);
    await writes;
    expect((await archiver()).failed).toBeGreaterThan(0);
    const stuck = (await stack.pg.cluster.psql("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready';")).trim();
    expect(Number(stuck)).toBeGreaterThan(0);

    await stack.startEndpoint();
    const last = await stack.switchAndWait(120_000);

    const from = parseWalName(first).segno!;
    const to = parseWalName(last).segno!;
    const expected = Array.from({ length: Number(to - from) + 1 }, (_, i) => from + BigInt(i));
    let indexed: bigint[] = [];
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && indexed.length < expected.length; await sleep(200)) {
      indexed = (await stack.walCatalog.listSegments(WAL_DATABASE, 1, from, to)).map((s) => parseWalName(s.name).segno!);
    }
    expect(indexed).toEqual(expected);
    expect(Number((await stack.pg.cluster.psql('SELECT count(*) FROM load;')).trim())).toBe(600_000);
  }, 240_000);

  it('during a recovery: recovery stops instead of promoting early', async () => {
    const base = await stack.baseBackup();
    expect(base.state).toBe('VERIFIED');
    await stack.pg.cluster.psql('INSERT INTO load (v) SELECT g FROM generate_series(1, 50000) g;');
    await stack.switchAndWait();
    await stack.stopEndpoint();
    const pgdata = join(scratch, 'recovered');

    const attempt = runPitr(
      { catalog: stack.catalog, walCatalog: stack.walCatalog, storage: stack.storage, alerts: stack.alerts, log: stack.log, clock: () => new Date(), server: { prepareEmptyDataDir, unpackBaseBackup, writeRecoveryConfig, socketDirFor, startAndAwaitPromotion } },
      {
        database: WAL_DATABASE,
        target: { type: 'latest' },
        exclusive: false,
        pgdata,
        restoreCommand: stack.host.restoreCommand,
        archiveCommand: stack.host.archiveCommand,
        archive: false,
        start: true,
        port: await freePort(),
        timeoutMs: 120_000,
      },
    );

    await expect(attempt).rejects.toMatchObject({ code: 'RECOVERY_FAILED' });
    // Never promoted: recovery.signal is still there (PostgreSQL removes it on promotion) and the server is down.
    expect(existsSync(join(pgdata, 'recovery.signal'))).toBe(true);
    const status = await runAsServerUser('/usr/lib/postgresql/15/bin/pg_ctl', ['-D', pgdata, 'status'], { cwd: '/' });
    expect(status.code).not.toBe(0);
    await stack.startEndpoint();
  }, 180_000);
});
