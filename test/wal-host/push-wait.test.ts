import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerLine } from '../../shared/wal-host/spool-protocol';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, makeSegment, removeDir, runWal, seg, tempDir, waitFor, writeHostConfig } from './harness';

// When the uploader is already pushing a segment, PostgreSQL's own wal-push of it waits for
// that push (its marker) instead of pushing the same bytes a second time.
let base: string;
let bundle: string;
let endpoint: EndpointUnderTest;
let dataDir: string;
let walDir: string;
let config: string;
let uploader: ChildProcess | undefined;

beforeAll(async () => {
  base = await tempDir('sbx-walwait-');
  [bundle, endpoint] = await Promise.all([buildBundle(base), startEndpointUnderTest()]);
  ({ dataDir, walDir } = await makeDataDir(base));
  config = await writeHostConfig(base, endpoint);
});
afterAll(async () => {
  if (uploader && uploader.exitCode === null) uploader.kill('SIGKILL');
  await endpoint?.stop();
  await removeDir(base);
});

describe('wal-push while the uploader pushes the same file', () => {
  it('waits for the uploader and succeeds on its marker without a second upload', async () => {
    // Prepare: a live process whose command line says `uploader` holds the .pushing note.
    const name = seg(7);
    const path = join(walDir, name);
    await writeFile(path, makeSegment(7));
    uploader = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'uploader'], { stdio: 'ignore' });
    const out = join(base, 'spool', 'out');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, `${name}.pushing`), `${await ownerLine(uploader.pid)}\n`);
    const info = await stat(path, { bigint: true });
    const identity = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}`;

    // Act: wal-push starts and says it waits; the uploader's push then ends with its marker
    const child = spawn(process.execPath, [bundle, 'wal-push', `pg_wal/${name}`, '--config', config], { cwd: dataDir, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor('wal-push to wait for the uploader', () => stderr.includes('waiting for the uploader'), 60_000);
    await writeFile(join(out, `${name}.ok`), `${identity}\n`);
    await rm(join(out, `${name}.pushing`));
    const result = { code: await exited };

    // Assess
    expect(result.code).toBe(0);
    expect(endpoint.requests.filter((request) => request.path.includes(name))).toEqual([]);
  });

  it('pushes itself when the uploader\'s note is stale (its process is gone)', async () => {
    const name = seg(8);
    await writeFile(join(walDir, name), makeSegment(8));
    await writeFile(join(base, 'spool', 'out', `${name}.pushing`), '999999999\n');

    const result = await runWal(bundle, ['wal-push', `pg_wal/${name}`, '--config', config], { cwd: dataDir });

    expect(result.code).toBe(0);
    expect(await endpoint.record(name)).toBeDefined();
  });
});
