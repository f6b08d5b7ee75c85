/**
 * The uploader of a cluster that stopped exits, even while a file keeps failing to push (a
 * conflict retried with backoff would otherwise keep it busy for good) — issue 14, item 8.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../shared/errors';
import type { ArchiveClient } from '../../shared/wal-host/client';
import { loadHostConfig } from '../../shared/wal-host/config';
import { clusterGone, runUploader } from '../../shared/wal-host/uploader';
import { makeDataDir, readySegment, removeDir, tempDir, writeHostConfig } from './harness';

let base: string;
let postmaster: ChildProcess | undefined;

beforeAll(async () => {
  base = await tempDir('sbx-uploader-cluster-');
});
afterAll(async () => {
  postmaster?.kill('SIGKILL');
  await removeDir(base);
});

/** A client whose every push is refused as a conflict (another cluster's bytes under the name). */
let firstTry: () => void = () => undefined;
const tried = new Promise<void>((resolve) => (firstTry = resolve));
const conflicting = {
  health: async () => {
    firstTry();
    throw new ConflictError('000000010000000000000001 is archived with other bytes', 'find which cluster wrote it');
  },
} as unknown as ArchiveClient;

describe('the uploader and its cluster', () => {
  it('tells a running postmaster from a stopped one by postmaster.pid', async () => {
    const { walDir, dataDir } = await makeDataDir(join(base, 'probe'));
    expect(await clusterGone(walDir)).toBe('no postmaster.pid');
    await writeFile(join(dataDir, 'postmaster.pid'), `${process.pid}\n${dataDir}\n`);
    expect(await clusterGone(walDir)).toBeUndefined();
  });

  it('exits once its postmaster is gone, though a conflicting file is still being retried', async () => {
    const { walDir, dataDir } = await makeDataDir(join(base, 'cluster'));
    // A stand-in postmaster: a live process whose PID postmaster.pid names, stopped below.
    postmaster = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await writeFile(join(dataDir, 'postmaster.pid'), `${postmaster.pid}\n${dataDir}\n`);
    await readySegment(walDir, 1);
    const configPath = await writeHostConfig(join(base, 'cluster'), { url: 'http://127.0.0.1:9', token: 'x' }, { uploader: { idleExitMs: 600_000, scanIntervalMs: 50 } });
    const config = loadHostConfig({ flag: configPath });
    let finished = false;
    const uploader = runUploader(config, walDir, { client: conflicting }).finally(() => (finished = true));
    // It tries (and keeps retrying while the cluster runs; its idle exit is far away)...
    await tried;
    expect(finished).toBe(false);
    // ...and leaves when the postmaster stops.
    const exited = new Promise((resolve) => postmaster!.once('exit', resolve));
    postmaster.kill('SIGKILL');
    await exited;
    await uploader;
    expect(finished).toBe(true);
  }, 60_000);
});
