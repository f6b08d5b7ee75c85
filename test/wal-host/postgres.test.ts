import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, chown, mkdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { writeHostScripts } from '../../shared/wal-host/scripts';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { startTestCluster, type TestCluster } from '../support/pg';
import { buildBundle, removeDir, tempDir, waitFor, writeHostConfig } from './harness';

// A real PostgreSQL 15 archiving through the generated wal-push script into the real
// endpoint (bytes mode over a repository folder). archive_command runs as the postgres OS user: the bundle, scripts and config
// are world-readable, the token and the spool belong to postgres.
let base: string;
let endpoint: EndpointUnderTest;
let pg: TestCluster | undefined;
let spool: string;

function postgresIds(): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

beforeAll(async () => {
  base = await tempDir('sbx-walpg-');
  let bundle: string;
  [bundle, endpoint] = await Promise.all([buildBundle(base), startEndpointUnderTest()]);
  const config = await writeHostConfig(base, endpoint, { uploader: { idleExitMs: 1000 } });
  spool = join(base, 'spool');
  await mkdir(spool);
  const { uid, gid } = postgresIds();
  await chown(spool, uid, gid);
  await chown(join(base, 'archive.token'), uid, gid);
  const { pushScript } = await writeHostScripts({ dir: join(base, 'bin'), nodePath: process.execPath, bundlePath: bundle, configPath: config });
  pg = await startTestCluster({ settings: { wal_level: 'replica', archive_mode: 'on', archive_command: `'${pushScript}' %p`, archive_timeout: '60s' } });
});

afterAll(async () => {
  await pg?.stop();
  // A detached uploader (as postgres) exits after 1 s idle: let it, before its spool goes.
  await waitFor('the uploader to exit', () => access(join(spool, 'uploader.pid')).then(() => false, () => true), 10_000).catch(() => undefined);
  await endpoint?.stop();
  await removeDir(base);
});

describe('PostgreSQL archiving through wal-push', () => {
  it('archives every switched segment into the endpoint, with the cluster system id, and the archiver counts no failure', async () => {
    // Prepare
    const systemId = (await pg!.cluster.psql('SELECT system_identifier FROM pg_control_system()')).trim();

    // Act: write a little and switch, three times
    const switched: string[] = [];
    for (let i = 0; i < 3; i++) {
      const name = await pg!.cluster.psql(`CREATE TABLE t${i} AS SELECT g, md5(g::text) FROM generate_series(1, 5000) g; SELECT pg_walfile_name(pg_switch_wal());`);
      switched.push(name.trim());
    }

    // Assess
    await waitFor('the switched segments in the endpoint', async () => (await Promise.all(switched.map((name) => endpoint.record(name)))).every(Boolean));
    await waitFor('the archiver to report the last one', async () => (await pg!.cluster.psql('SELECT last_archived_wal FROM pg_stat_archiver')).trim() >= switched.at(-1)!);
    for (const name of switched) expect(await endpoint.record(name)).toMatchObject({ systemId, compression: 'zstd', size: 16 * 1024 * 1024 });
    expect(await endpoint.identity()).toMatchObject({ systemId, segmentSize: 16 * 1024 * 1024, pgVersion: 15 });
    const stats = (await pg!.cluster.psql('SELECT archived_count, failed_count FROM pg_stat_archiver')).trim().split('|').map(Number);
    expect(stats[0]).toBeGreaterThanOrEqual(3);
    expect(stats[1]).toBe(0);
  });
});
