import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeArchiveEndpoint, type FakeArchiveEndpoint } from '../support/fake-archive-endpoint';
import { buildBundle, makeDataDir, makeSegment, removeDir, runWal, seg, tempDir, writeHostConfig } from './harness';

// When the uploader is already pushing a segment, PostgreSQL's own wal-push of it waits for
// that push (its marker) instead of pushing the same bytes a second time.
let base: string;
let bundle: string;
let fake: FakeArchiveEndpoint;
let dataDir: string;
let walDir: string;
let config: string;
let uploader: ChildProcess | undefined;

beforeAll(async () => {
  base = await tempDir('sbx-walwait-');
  [bundle, fake] = await Promise.all([buildBundle(base), startFakeArchiveEndpoint()]);
  ({ dataDir, walDir } = await makeDataDir(base));
  config = await writeHostConfig(base, fake);
});
afterAll(async () => {
  if (uploader && uploader.exitCode === null) uploader.kill('SIGKILL');
  await fake?.stop();
  await removeDir(base);
});

describe('wal-push while the uploader pushes the same file', () => {
  it('waits for the uploader and succeeds on its marker without a second upload', async () => {
    // Prepare: a live process whose command line says `uploader` holds the .pushing note.
    const name = seg(7);
    const path = join(walDir, name);
    await writeFile(path, makeSegment(7));
    uploader = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'uploader'], { stdio: 'ignore' });
    const out = join(base, 'spool', 'out');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, `${name}.pushing`), `${uploader.pid}\n`);
    const info = await stat(path, { bigint: true });
    const identity = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}`;
    setTimeout(() => {
      void writeFile(join(out, `${name}.ok`), `${identity}\n`).then(() => rm(join(out, `${name}.pushing`)));
    }, 400);

    // Act
    const result = await runWal(bundle, ['wal-push', `pg_wal/${name}`, '--config', config], { cwd: dataDir });

    // Assess
    expect(result.code).toBe(0);
    expect(fake.requests.filter((request) => request.path.includes(name))).toEqual([]);
  });

  it('pushes itself when the uploader\'s note is stale (its process is gone)', async () => {
    const name = seg(8);
    await writeFile(join(walDir, name), makeSegment(8));
    await writeFile(join(base, 'spool', 'out', `${name}.pushing`), '999999999\n');

    const result = await runWal(bundle, ['wal-push', `pg_wal/${name}`, '--config', config], { cwd: dataDir });

    expect(result.code).toBe(0);
    expect(fake.files.has(name)).toBe(true);
  });
});
