/**
 * PostgreSQL 16, 17 and 18 servers (issue 18 point 3), from the devDependencies pg16/pg17/pg18
 * (test/support/pg-versions.ts): each archives through Strongbox's wal-push and the real
 * endpoint (the header's version, system identifier and segment size recorded, a segment of
 * another cluster refused), and a low-level base backup (pg_backup_start/stop: this machine's
 * pg_basebackup 15 refuses newer servers) replays through wal-fetch to a time between two
 * markers; promoted with archiving on, the new timeline's .history and the old timeline's
 * .partial segment are archived. One major after the other: the machine has 2 cores.
 */
import { copyFile, chmod, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../shared/adapters/postgres/client';
import { freePort, serverUserIds } from '../../shared/adapters/postgres/cluster';
import { runAsServerUser, runCommand } from '../../shared/adapters/postgres/process';
import { startAndAwaitPromotion, writeRecoveryConfig } from '../../shared/adapters/postgres/recovery';
import { parseSegmentHeader, SEGMENT_HEADER_SIZE } from '../../shared/domain/wal/header';
import { walPrefix } from '../../shared/domain/wal/keys';
import { recoveryTargetSettings } from '../../shared/domain/wal/pitr-target';
import { readIdentity } from '../../shared/usecases/wal-archive/identity';
import { embeddedBinDir, EXTRA_MAJORS } from '../support/pg-versions';
import { sql } from '../support/restore';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

describe.each(EXTRA_MAJORS)('PostgreSQL %i', (major) => {
  let stack: WalStack;
  let bin: string;
  let work: string;
  const started: string[] = [];

  beforeAll(async () => {
    bin = await embeddedBinDir(major);
    stack = await startWalStack({ binDir: bin });
    work = await mkdtemp(join(tmpdir(), `sbx-pg${major}-`));
    await chmod(work, 0o755);
  }, 120_000);

  afterAll(async () => {
    for (const dataDir of started) await runAsServerUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-s', 'stop'], { cwd: '/' }).catch(() => undefined);
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(`archives through wal-push: the archive's identity is the ${major} server's, read from real segment headers`, async () => {
    const version = await sql(stack.pg.conn, "SELECT current_setting('server_version_num')::int / 10000 AS major, (SELECT system_identifier::text FROM pg_control_system()) AS id");
    expect(version[0]).toEqual({ major, id: expect.stringMatching(/^\d+$/) });
    const name = await stack.switchAndWait();
    const identity = await readIdentity(stack.storage, WAL_DATABASE);
    expect(identity).toMatchObject({ systemId: version[0]!.id, segmentSize: 16 * 1024 * 1024, pgVersion: major });
    // The header of a segment as this major writes it (the page magic names the version).
    const segment = (await readdir(join(stack.pg.cluster.dataDir, 'pg_wal'))).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort()[0]!;
    const header = parseSegmentHeader((await readFile(join(stack.pg.cluster.dataDir, 'pg_wal', segment))).subarray(0, SEGMENT_HEADER_SIZE));
    expect(header).toMatchObject({ pgVersion: major, systemId: version[0]!.id, segmentSize: 16 * 1024 * 1024, timeline: 1 });
    expect((await stack.walCatalog.getWal(WAL_DATABASE, name))?.kind).toBe('segment');
  }, 120_000);

  it('refuses a segment of another cluster of the same major (system identifier check)', async () => {
    // A second cluster, archiving into the same database's archive through the same wal-push.
    const other = await startWalStack({ binDir: bin });
    try {
      const segment = (await readdir(join(other.pg.cluster.dataDir, 'pg_wal'))).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort()[0]!;
      const copy = join(work, segment);
      await copyFile(join(other.pg.cluster.dataDir, 'pg_wal', segment), copy);
      await chmod(copy, 0o644);
      const push = await runAsServerUser(stack.host.pushScript, [copy], { cwd: work });
      expect(push.code).toBe(1);
      expect(push.stdout + push.stderr).toMatch(/SYSTEM_ID_MISMATCH/);
    } finally {
      await other.stop();
    }
  }, 120_000);

  it('a base backup replays through wal-fetch to a time between two markers; promoted with archiving, .history and .partial are archived', async () => {
    const shop = stack.pg.conn;
    await sql(shop, 'CREATE TABLE markers (id int PRIMARY KEY)');
    // The low-level API on one session (pg_basebackup 15 refuses a newer server).
    const session = await connectClient(shop);
    const copy = join(work, 'base');
    try {
      await session.query("SELECT pg_backup_start('strongbox-test', true)");
      await cp(stack.pg.cluster.dataDir, copy, { recursive: true, filter: (path) => !/\/(postmaster\.pid|postmaster\.opts|\.s\.PGSQL\.\d+(\.lock)?)$/.test(path) && !/\/pg_wal\/.+/.test(path) });
      const { labelfile } = (await session.query<{ labelfile: string }>('SELECT labelfile FROM pg_backup_stop(true)')).rows[0]!;
      await writeFile(join(copy, 'backup_label'), labelfile);
    } finally {
      await session.end();
    }
    await sql(shop, 'INSERT INTO markers VALUES (1)');
    await sleep(300);
    const between = new Date();
    await sleep(300);
    await sql(shop, 'INSERT INTO markers VALUES (2)');
    // The segment being written is not archived: as on a standby, it lies in the copy's pg_wal.
    // Recovery reads it there once wal-fetch says "not archived", and at promotion PostgreSQL
    // renames it <segment>.partial and archives it.
    const current = String((await sql(shop, 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS f'))[0]!.f);
    await copyFile(join(stack.pg.cluster.dataDir, 'pg_wal', current), join(copy, 'pg_wal', current));

    const { uid, gid } = await serverUserIds();
    await runCommand('chown', ['-R', `${uid}:${gid}`, copy]);
    const port = await freePort();
    await writeRecoveryConfig(copy, {
      restore_command: stack.host.restoreCommand,
      ...recoveryTargetSettings({ type: 'time', at: between, assumedUtc: false }, false, 1),
      archive_mode: 'on',
      archive_command: stack.host.archiveCommand,
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: copy,
    });
    started.push(copy);
    const promoted = await startAndAwaitPromotion({ dataDir: copy, port, timeoutMs: 120_000, binDir: bin });
    expect(promoted.timeline).toBe(2);
    const recovered = { ...shop, port };
    expect(await sql(recovered, 'SELECT string_agg(id::text, \',\' ORDER BY id) AS ids FROM markers')).toEqual([{ ids: '1' }]);

    // The new timeline's history and the old timeline's last, partial segment reach the archive and the catalog.
    const deadline = Date.now() + 60_000;
    while (!(await stack.walCatalog.getWal(WAL_DATABASE, '00000002.history')) || !(await stack.walCatalog.getWal(WAL_DATABASE, `${current}.partial`))) {
      if (Date.now() > deadline) {
        const names: string[] = [];
        for await (const object of stack.storage.list(walPrefix(WAL_DATABASE))) names.push(object.key);
        throw new Error(`00000002.history or ${current}.partial not archived: ${names.join(', ')}`);
      }
      await sleep(200);
    }
    expect(await stack.walCatalog.getWal(WAL_DATABASE, `${current}.partial`)).toMatchObject({ kind: 'partial', timeline: 1 });
  }, 180_000);
});
