/**
 * `strongbox doctor` and `strongbox restore-point` in-process, over local mode's own state
 * (a temporary STRONGBOX_HOME) and a real archiving cluster named by DATABASE_URL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctorCommand } from '../../shared/cli/commands/doctor';
import { restorePointCommand } from '../../shared/cli/commands/restore-point';
import { output, run } from '../support/cli-output';
import { resolveHome } from '../../shared/local/home';
import { walHostPaths } from '../../shared/local/wal-paths';
import { startArchivingCluster, type ArchivingCluster } from '../support/archiving-cluster';

let dir: string;
let pg: ArchivingCluster;
let savedEnv: NodeJS.ProcessEnv;
const savedCwd = process.cwd();

beforeAll(async () => {
  pg = await startArchivingCluster({ mode: 'copy', settings: { archive_timeout: '60s' } });
  dir = await mkdtemp(join(tmpdir(), 'sbx-wal-cli-'));
  savedEnv = { ...process.env };
  process.env.STRONGBOX_HOME = join(dir, 'state');
  process.env.DATABASE_URL = `postgresql://postgres@127.0.0.1:${pg.conn.port}/postgres`;
  delete process.env.STRONGBOX_CONFIG;
  process.chdir(dir);
});
afterAll(async () => {
  process.chdir(savedCwd);
  process.env = savedEnv;
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('strongbox restore-point', () => {
  it('prints the point as JSON, and refuses the same name a second time with RESTORE_POINT_EXISTS', async () => {
    const first = output(true);
    expect(await run((out) => restorePointCommand('before-upgrade', {}, out), first)).toBe(0);
    const point = JSON.parse(first.out.join(''));
    expect(point).toMatchObject({ database: 'postgres', name: 'before-upgrade', timeline: 1 });
    expect(point.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

    const second = output(true);
    expect(await run((out) => restorePointCommand('before-upgrade', {}, out), second)).toBe(1);
    expect(JSON.parse(second.out.join('')).error.code).toBe('RESTORE_POINT_EXISTS');
  });

  it('the human text suggests a pitr command that runs as it is: with --pgdata', async () => {
    const out = output(false);
    expect(await run((o) => restorePointCommand('before-migration-42', {}, o), out)).toBe(0);
    const text = out.out.join('');
    expect(text).toContain('recover to it with: strongbox pitr --database postgres --name "before-migration-42" --pgdata /srv/pg/recovered\n');
    expect(text).toContain('--pgdata: a new, empty directory');
  });

  it('a bad name is a usage-level refusal with a hint', async () => {
    const out = output(false);
    expect(await run((o) => restorePointCommand('x'.repeat(70), {}, o), out)).toBe(1);
    expect(out.err.join('')).toMatch(/over 63[\s\S]*HINT: use 1–63 bytes/);
  });
});

describe('strongbox doctor', () => {
  it('without the host config: exit 1, the endpoint and archive_command findings say what to do', async () => {
    const out = output(false);
    const code = await run((o) => doctorCommand({}, o), out);
    const text = out.out.join('');
    const host = walHostPaths(resolveHome(process.env, dir), 'postgres');

    expect(code).toBe(1);
    expect(text).toContain('Doctor: database postgres');
    expect(text).toMatch(/✘ archive endpoint\s+\(not configured\): no host config at /);
    expect(text).toContain(host.config);
    expect(text).toMatch(/✘ archive_command .*not the one for this Strongbox/);
    expect(text).toContain(`fix: ALTER SYSTEM SET archive_command = '${host.archiveCommand.replace(/'/g, "''")}'`);
    expect(text).toMatch(/✔ archive_mode/);
    expect(text).toContain('NOT healthy');
  });

  it('--json: healthy false and the findings', async () => {
    const out = output(true);
    expect(await run((o) => doctorCommand({ json: true }, o), out)).toBe(1);
    const report = JSON.parse(out.out.join(''));
    expect(report).toMatchObject({ database: 'postgres', healthy: false });
    expect(report.findings.find((f: { check: string }) => f.check === 'round trip')).toMatchObject({ status: 'fail', detail: 'not tried: the archive endpoint is unreachable' });
  });
});

describe('walHostPaths', () => {
  it('names the files under <home>/wal/<db> and single-quotes the scripts in the commands', () => {
    const paths = walHostPaths(resolveHome({ STRONGBOX_HOME: "/srv/it's here" }, '/'), 'app');
    expect(paths).toEqual({
      dir: "/srv/it's here/wal/app",
      config: "/srv/it's here/wal/app/wal.json",
      pushScript: "/srv/it's here/wal/app/wal-push",
      fetchScript: "/srv/it's here/wal/app/wal-fetch",
      spool: "/srv/it's here/spool/app",
      archiveCommand: "'/srv/it'\\''s here/wal/app/wal-push' %p",
      restoreCommand: "'/srv/it'\\''s here/wal/app/wal-fetch' %f %p",
    });
  });

  it('refuses a database name that could escape the folder', () => {
    expect(() => walHostPaths(resolveHome({}, '/tmp'), '../etc')).toThrow(/not allowed/);
  });
});
