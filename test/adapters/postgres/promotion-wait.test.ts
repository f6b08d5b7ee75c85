import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findBinDir, freePort, serverUserIds } from '../../../shared/adapters/postgres/cluster';
import { isRoot, runAsServerUser, runCommand } from '../../../shared/adapters/postgres/process';
import { startAndAwaitPromotion, writeRecoveryConfig } from '../../../shared/adapters/postgres/recovery';

/**
 * The wait for promotion reads the control file, so it does not depend on a role this
 * process can log in as: a recovered cluster whose only role is neither "postgres" nor the
 * OS user's (an ECS task runs as `node`, a CLI as its user) is still seen promoted.
 */
describe('startAndAwaitPromotion', () => {
  const dirs: string[] = [];
  let bin = '';

  afterAll(async () => {
    for (const dataDir of dirs) {
      await runAsServerUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-s', 'stop'], { cwd: '/' }).catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('sees a cluster promoted whose only role is one nobody logs in as', async () => {
    // Arrange: a cluster whose bootstrap superuser is "sbx_owner_only", in archive recovery with nothing to fetch.
    bin = await findBinDir();
    const dataDir = await mkdtemp(join(tmpdir(), 'sbx-promote-'));
    dirs.push(dataDir);
    if (isRoot()) {
      const { uid, gid } = await serverUserIds();
      await runCommand('chown', ['-R', `${uid}:${gid}`, dataDir]);
    }
    const init = await runAsServerUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'sbx_owner_only', '-A', 'trust', '-N'], { cwd: '/' });
    expect(init.code, init.stderr).toBe(0);
    const port = await freePort();
    await writeRecoveryConfig(dataDir, { restore_command: 'false', port: String(port), listen_addresses: '', unix_socket_directories: dataDir, fsync: 'off' });

    // Act: recovery finds no archive, replays pg_wal to its end and promotes.
    const promoted = await startAndAwaitPromotion({ dataDir, port, timeoutMs: 120_000, binDir: bin });

    // Assert: promoted (the control file says "in production"), though no probe role can log in.
    expect(promoted.seconds).toBeGreaterThanOrEqual(0);
    const control = await runAsServerUser(join(bin, 'pg_controldata'), ['-D', dataDir], { cwd: '/', env: { ...process.env, LC_ALL: 'C' } });
    expect(control.stdout).toMatch(/Database cluster state:\s+in production/);
    expect(promoted.timeline).toBeUndefined();
  });
});
