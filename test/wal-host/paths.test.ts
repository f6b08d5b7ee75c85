import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHostScripts } from '../../shared/wal-host/scripts';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, makeSegment, readySegment, removeDir, run, seg, tempDir, waitFor, writeHostConfig } from './harness';

// The plain path and each fast path, switched on and off in the host config, against the
// same cases and the real endpoint: PostgreSQL's side is played in order (the archive
// command per `.ready` file, `.done` after exit 0), as the archiver does.
const OFF = { shell: false, uploader: false, direct: false, handoff: false, worker: false };
const ON = { shell: true, uploader: true, direct: true, handoff: true, worker: true };
const NO_ADDON = { STRONGBOX_ZSTD_NATIVE: 'off' };
const MODES = [
  { id: 'plain path (every fast path off)', fast: OFF, mode: 'bytes' },
  { id: 'shell script only', fast: { ...OFF, shell: true }, mode: 'bytes' },
  { id: 'uploader, bodies, zstd on its main thread', fast: { ...OFF, uploader: true, direct: true }, mode: 'bytes' },
  { id: 'uploader with hand-off files and its worker thread', fast: { ...OFF, uploader: true, direct: true, handoff: true, worker: true }, mode: 'bytes' },
  { id: 'every fast path', fast: ON, mode: 'bytes' },
  { id: 'every fast path, presign mode over s3rver', fast: ON, mode: 'presign' },
  { id: 'every fast path but the hand-off, no in-process zstd on this Node (gzip stands in)', fast: { ...ON, handoff: false }, mode: 'bytes', env: NO_ADDON },
  { id: 'every fast path, no in-process zstd on this Node (the endpoint compresses what is handed over)', fast: ON, mode: 'bytes', env: NO_ADDON, stored: 'zstd' },
] as const;

let bundle: string;
let bundleDir: string;
beforeAll(async () => {
  bundleDir = await tempDir('sbx-walpaths-');
  bundle = await buildBundle(bundleDir);
});
afterAll(() => removeDir(bundleDir));

describe.each(MODES)('archiving with $id', (row) => {
  const { fast, mode } = row;
  const env = { ...process.env, ...('env' in row ? row.env : {}) };
  let base: string;
  let endpoint: EndpointUnderTest;
  let dataDir: string;
  let walDir: string;
  let pushScript: string;
  const spool = () => join(base, 'spool');

  beforeAll(async () => {
    base = await tempDir('sbx-walpath-');
    endpoint = await startEndpointUnderTest({ mode, handoff: join(base, 'spool', 'tmp') });
    ({ dataDir, walDir } = await makeDataDir(base));
    const config = await writeHostConfig(base, endpoint, { fastPaths: fast, uploader: { idleExitMs: 600_000, scanIntervalMs: 50 } });
    ({ pushScript } = await writeHostScripts({ dir: join(base, 'bin'), nodePath: process.execPath, bundlePath: bundle, configPath: config }));
  });
  afterAll(async () => {
    const pid = Number((await readFile(join(spool(), 'uploader.pid'), 'utf8').catch(() => '')).split(' ')[0]);
    if (pid > 1) process.kill(pid, 'SIGTERM');
    await waitFor('the uploader to exit', async () => (await readFile(join(spool(), 'uploader.pid')).catch(() => undefined)) === undefined).catch(() => undefined);
    await endpoint?.stop();
    await removeDir(base);
  });

  /** PostgreSQL's archiver: the command for `name`, then `.done` when it exits 0. */
  async function archive(name: string) {
    const result = await run(pushScript, [`pg_wal/${name}`], { cwd: dataDir, env });
    if (result.code === 0) await rename(join(walDir, 'archive_status', `${name}.ready`), join(walDir, 'archive_status', `${name}.done`)).catch(() => undefined);
    return result;
  }

  it('archives a backlog in order, each file exit 0 and stored byte for byte', async () => {
    // Prepare: four segments waiting
    const names: string[] = [];
    for (let segno = 1; segno <= 4; segno++) names.push(await readySegment(walDir, segno));

    // Act
    const results = [];
    for (const name of names) results.push(await archive(name));

    // Assess
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    for (const name of names) expect((await endpoint.raw(name)).equals(await readFile(join(walDir, name)))).toBe(true);
    expect((await endpoint.record(names[0]!))?.compression).toBe('stored' in row ? row.stored : 'env' in row ? 'gzip' : 'zstd');
    if (!fast.uploader) expect(await readFile(join(spool(), 'uploader.pid')).catch(() => undefined)).toBeUndefined();
    // Switched off (or in presign mode), no file is handed over (uploader.test.ts sees the uploader hand them over when on).
    if (!fast.handoff || mode === 'presign') expect(endpoint.requests.filter((request) => request.handoff !== undefined)).toEqual([]);
  });

  it('answers exit 0 again for a file archived before (a retry after a crash)', async () => {
    const result = await run(pushScript, [`pg_wal/${seg(2)}`], { cwd: dataDir, env });
    expect(result.code).toBe(0);
  });

  it('refuses other bytes under an archived name: exit 1, WAL_CONFLICT, the archive keeps the first', async () => {
    // Prepare: segment 3 rewritten (another inode, other bytes) and waiting again
    const first = await endpoint.raw(seg(3));
    await writeFile(join(walDir, `${seg(3)}.new`), makeSegment(3));
    await rename(join(walDir, `${seg(3)}.new`), join(walDir, seg(3)));
    await rename(join(walDir, 'archive_status', `${seg(3)}.done`), join(walDir, 'archive_status', `${seg(3)}.ready`));

    // Act
    const result = await archive(seg(3));

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('WAL_CONFLICT');
    expect((await endpoint.raw(seg(3))).equals(first)).toBe(true);
  });
});
