import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { access, copyFile, mkdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileIdentity } from '../../shared/wal-host/identity';
import { writeHostScripts } from '../../shared/wal-host/scripts';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, makeSegment, readySegment, removeDir, run, runWal, seg, tempDir, waitFor, writeHostConfig } from './harness';

// The asynchronous uploader, started by the first wal-push of a backlog, run for real as a
// detached child of the bundle, against the real endpoint in bytes mode taking hand-off
// files (as npm start runs it). PostgreSQL's side (.ready → .done) is played by the test.
// The uploader's idle exit is far away: it runs for the whole file, whatever the machine's
// load, and is stopped (by its pid) at the end — no test depends on when it goes idle.
let base: string;
let bundle: string;
let fake: EndpointUnderTest;
let dataDir: string;
let walDir: string;
let config: string;
let spool: string;
let scripts: { pushScript: string };

const exists = (path: string) => access(path).then(() => true, () => false);
const prepares = (name: string) => fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/${name}`)).length;
/** PUTs that handed `name` over (the file itself, to this host's endpoint). */
const handedOver = (name: string) => fake.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/${name}/body`) && r.handoff?.endsWith('.wal')).length;
const marker = (name: string) => join(spool, 'out', `${name}.ok`);
/** The hard-link marker (the spool and pg_wal share /tmp's filesystem here). */
const linkMarker = (name: string) => join(spool, 'out', `${name}.link`);

/** What PostgreSQL does after archive_command exits 0. */
async function archivedByPostgres(name: string): Promise<void> {
  await rename(join(walDir, 'archive_status', `${name}.ready`), join(walDir, 'archive_status', `${name}.done`));
}

beforeAll(async () => {
  base = await tempDir('sbx-walup-');
  spool = join(base, 'spool');
  [bundle, fake] = await Promise.all([buildBundle(base), startEndpointUnderTest({ handoff: join(spool, 'tmp') })]);
  ({ dataDir, walDir } = await makeDataDir(base));
  config = await writeHostConfig(base, fake, { uploader: { idleExitMs: 600_000, scanIntervalMs: 50, markerTtlMs: 200 } });
  scripts = await writeHostScripts({ dir: join(base, 'bin'), nodePath: process.execPath, bundlePath: bundle, configPath: config });
});
afterAll(async () => {
  // The uploader the first wal-push started: stopped by its pid, and waited for, so that it never outlives the test.
  const pid = Number((await readFile(join(spool, 'uploader.pid'), 'utf8').catch(() => '')).split(' ')[0]);
  if (pid > 1) process.kill(pid, 'SIGTERM');
  await waitFor('the uploader to exit', async () => !(await exists(join(spool, 'uploader.pid')))).catch(() => undefined);
  await fake?.stop();
  await removeDir(base);
});

describe('the uploader', () => {
  it('is started by a wal-push with a backlog and archives the backlog ahead, leaving hard-link markers of the very files', async () => {
    // Prepare: six segments waiting, a stale pid file of a dead process, an orphan marker
    for (let segno = 1; segno <= 6; segno++) await readySegment(walDir, segno);
    await mkdir(join(spool, 'out'), { recursive: true });
    await writeFile(join(spool, 'uploader.pid'), '999999\n');
    await writeFile(marker(seg(50)), '1:2:3:4\n');
    await utimes(marker(seg(50)), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    // A stray zstd output of a killed push
    const stray = join(spool, 'tmp', `${seg(51)}.999999.1.zst.tmp`);
    await mkdir(join(spool, 'tmp'), { recursive: true });
    await writeFile(stray, 'half a compressed segment');
    await utimes(stray, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));

    // Act
    const first = await runWal(bundle, ['wal-push', `pg_wal/${seg(1)}`, '--config', config], { cwd: dataDir });
    await archivedByPostgres(seg(1));

    // Assess
    expect(first.code).toBe(0);
    for (let segno = 2; segno <= 6; segno++) {
      const name = seg(segno);
      await waitFor(`marker of ${name}`, () => exists(linkMarker(name)));
      expect(await fileIdentity(linkMarker(name))).toBe(await fileIdentity(join(walDir, name)));
      expect(await exists(marker(name))).toBe(false);
        expect((await fake.raw(name)).equals(await readFile(join(walDir, name)))).toBe(true);
      // Bytes mode on one host: one PUT handing the file itself over, no prepare (the foreground wal-push too).
      expect(prepares(name)).toBe(0);
      const puts = fake.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/${name}/body`));
      expect(puts.map((put) => put.handoff?.endsWith('.wal'))).toEqual([true]);
    }
    // The foreground wal-push handed segment 1 over itself. The uploader may push it once more
    // (answered `exists`) in the moment between that wal-push's end and PostgreSQL's `.done`.
    expect(prepares(seg(1))).toBe(0);
    expect(handedOver(seg(1))).toBeGreaterThanOrEqual(1);
    // The stale pid file was replaced by the running uploader's.
    const pidFile = await readFile(join(spool, 'uploader.pid'), 'utf8');
    expect(pidFile.trim()).not.toBe('999999');
    await waitFor('the orphan marker to be cleaned', async () => !(await exists(marker(seg(50)))));
    await waitFor('the stray zstd output to be cleaned', async () => !(await exists(stray)));
  });

  it('makes the next wal-push answer from the marker: exit 0, no request', async () => {
    // Prepare
    const name = seg(2);
    const before = prepares(name);

    // Act
    const result = await runWal(bundle, ['wal-push', `pg_wal/${name}`, '--config', config], { cwd: dataDir });

    // Assess
    expect(result.code).toBe(0);
    expect(prepares(name)).toBe(before);
    expect(fake.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/${name}/body`))).toHaveLength(1);
    await archivedByPostgres(name);
    console.log(`wal-push answered from a marker by node in ${result.ms.toFixed(0)} ms`);
  });

  it('makes the shell fast path answer without node', async () => {
    const name = seg(3);
    const before = prepares(name);
    const result = await run(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });
    expect(result.code).toBe(0);
    expect(prepares(name)).toBe(before);
    // The script leaves the marker; the uploader removes it once PostgreSQL marked the file done.
    expect(await exists(linkMarker(name))).toBe(true);
    await archivedByPostgres(name);
    await waitFor(`the uploader to remove the marker of ${name}`, async () => !(await exists(linkMarker(name))));
    console.log(`wal-push answered from a marker by the shell script in ${result.ms.toFixed(0)} ms`);
  });

  it('does not honor a marker written for another file under the same name (node and shell)', async () => {
    // Prepare: seg 7 (no .ready: the uploader leaves it alone) has a marker of its previous
    // inode; honoring it would report a file archived that the endpoint never saw
    const seven = seg(7);
    await writeFile(join(walDir, seven), makeSegment(7));
    await writeFile(marker(seven), `${await fileIdentity(join(walDir, seven))}\n`);
    await copyFile(join(walDir, seven), join(walDir, `${seven}.copy`));
    await rename(join(walDir, `${seven}.copy`), join(walDir, seven));
    // seg 5 replaced by other bytes after the uploader archived and marked it
    const five = seg(5);
    await writeFile(join(walDir, `${five}.new`), makeSegment(5));
    await rename(join(walDir, `${five}.new`), join(walDir, five));

    // Act
    const node = await runWal(bundle, ['wal-push', `pg_wal/${seven}`, '--config', config], { cwd: dataDir });
    const shell = await run(scripts.pushScript, [`pg_wal/${five}`], { cwd: dataDir });

    // Assess
    expect(node.code).toBe(0);
    expect(handedOver(seven)).toBe(1);
    expect(await fake.record(seven)).toBeDefined();
    expect(shell.code).toBe(1);
    expect(shell.stderr).toContain('WAL_CONFLICT');
  });

  it('runs once per spool, and exits when idle, removing its pid file', async () => {
    // Prepare: a spool and a pg_wal of their own (the other tests' uploader keeps to
    // theirs), one uploader that stays (far idle exit), and a config of the same spool whose
    // uploader would go idle soon
    const own = await tempDir('sbx-walup-once-');
    const staying = await writeHostConfig(own, fake, { uploader: { idleExitMs: 600_000, scanIntervalMs: 50 } });
    await mkdir(join(own, 'quick'));
    const quick = await writeHostConfig(join(own, 'quick'), fake, { spool: join(own, 'spool'), uploader: { idleExitMs: 300, scanIntervalMs: 50 } });
    const ownWal = (await makeDataDir(own)).walDir;
    const pidFile = join(own, 'spool', 'uploader.pid');
    const first = spawn(process.execPath, [bundle, 'uploader', '--config', staying, '--wal-dir', ownWal], { stdio: 'ignore' });
    const firstExit = new Promise((resolve) => first.once('close', resolve));
    try {
      await waitFor('the first uploader to take the pid file', () => exists(pidFile));

      // Act: a second one on the same spool
      const second = await runWal(bundle, ['uploader', '--config', quick, '--wal-dir', ownWal]);

      // Assess: it left without taking over (the first still holds the pid file and runs)
      expect(second.code).toBe(0);
      expect(second.stderr).not.toContain('uploader started');
      expect((await readFile(pidFile, 'utf8')).split(' ')[0]).toBe(String(first.pid));
      expect(first.exitCode).toBeNull();

      // Act: the first one stops; one alone on the spool exits once idle
      first.kill('SIGTERM');
      await firstExit;
      const alone = await runWal(bundle, ['uploader', '--config', quick, '--wal-dir', ownWal]);

      // Assess
      expect(alone.code).toBe(0);
      expect(alone.stderr).toContain('uploader exits: nothing to archive');
      expect(await exists(pidFile)).toBe(false);
    } finally {
      first.kill('SIGKILL');
      await removeDir(own);
    }
  });
});
