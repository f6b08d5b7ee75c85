/**
 * The prefetcher's warm start (`wal.js prefetcher --from SEGMENT`): started before recovery
 * asks for anything (the physical drill starts it while the base backup is unpacked), it
 * fetches the window beginning at SEGMENT itself, and the restore_command script then serves
 * the first segment from the spool without starting Node. A prefetcher already running (left
 * by an earlier recovery) is moved to the new first segment.
 */
import { access, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentBefore } from '../../shared/wal-host/prefetcher';
import { writeHostScripts } from '../../shared/wal-host/scripts';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, makeSegment, MIB, removeDir, run, seg, start, tempDir, waitFor, writeHostConfig } from './harness';

let base: string;
let bundle: string;
let endpoint: EndpointUnderTest;
let dataDir: string;
let config: string;
let spool: string;
let fetchScript: string;
const target = 'pg_wal/RECOVERYXLOG';
const first = 40;
const raws = new Map<number, Buffer>();
const list = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();
const exists = (path: string) => access(path).then(() => true, () => false);

beforeAll(async () => {
  base = await tempDir('sbx-prefetch-warm-');
  [bundle, endpoint] = await Promise.all([buildBundle(base), startEndpointUnderTest()]);
  ({ dataDir } = await makeDataDir(base));
  const dir = join(base, 'host');
  await mkdir(dir, { recursive: true });
  config = await writeHostConfig(dir, endpoint, { fetch: { prefetch: 3, prefetchIdleMs: 8000, attempts: 1 } });
  spool = join(dir, 'spool');
  for (const segno of [first - 10, first - 9, first, first + 1, first + 2, first + 3]) {
    raws.set(segno, makeSegment(segno));
    await endpoint.seed(seg(segno), raws.get(segno)!, 'zstd');
  }
  ({ fetchScript } = await writeHostScripts({ dir: join(dir, 'bin'), nodePath: process.execPath, bundlePath: bundle, configPath: config }));
});

afterAll(async () => {
  await endpoint?.stop();
  await removeDir(base);
});

describe('segmentBefore', () => {
  it('is the previous segment on the same timeline, across a 4 GiB boundary too; nothing for segment 0 or a non-segment', () => {
    expect(segmentBefore(seg(4096), MIB)).toBe(seg(4095));
    expect(segmentBefore(seg(7, 3), MIB)).toBe(seg(6, 3));
    expect(segmentBefore(seg(0), MIB)).toBeUndefined();
    expect(segmentBefore('00000002.history', MIB)).toBeUndefined();
  });
});

describe('prefetcher --from', () => {
  it('fetches the window that begins with the named segment before anything is asked; the script then serves it from the spool', async () => {
    // Act: a warm start, as the drill does while it unpacks the base backup
    const prefetcher = start(process.execPath, [bundle, 'prefetcher', '--config', config, '--from', seg(first)]);
    const inDir = join(spool, 'in');
    const window = [0, 1, 2].map((i) => seg(first + i));
    await waitFor('the first three segments prefetched', async () => JSON.stringify(await list(inDir)) === JSON.stringify(window));
    expect((await readFile(join(spool, 'prefetch.want'), 'utf8')).trim()).toBe(seg(first - 1));

    // Act: recovery asks for the first segment with the endpoint down: only the spool can answer
    endpoint.faults.failStatus = 503;
    let byShell;
    try {
      byShell = await run(fetchScript, [seg(first), target], { cwd: dataDir });
    } finally {
      endpoint.faults.failStatus = undefined;
    }

    // Assess: served whole from the spool by the shell, and the window moved on
    expect(byShell.code, byShell.stderr).toBe(0);
    expect((await readFile(join(dataDir, target))).equals(raws.get(first)!)).toBe(true);
    await rm(join(dataDir, target), { force: true });
    await waitFor('the window after the first segment', async () => (await list(inDir)).includes(seg(first + 3)));
    expect(await exists(join(spool, 'prefetcher.pid'))).toBe(true);

    // Act: a second warm start while this prefetcher runs moves it to the new first segment
    const second = await run(process.execPath, [bundle, 'prefetcher', '--config', config, '--from', seg(first - 10)]);
    expect(second.code, second.stderr).toBe(0);
    await waitFor('the new window', async () => (await list(inDir)).includes(seg(first - 9)) && !(await list(inDir)).includes(seg(first + 3)));
    expect((await readFile(join(spool, 'prefetch.want'), 'utf8')).trim()).toBe(seg(first - 11));
    process.kill(prefetcher.pid, 'SIGTERM');
    expect((await prefetcher.result).code).not.toBeNull();
  }, 120_000);
});
