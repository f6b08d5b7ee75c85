import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeHostScripts } from '../../shared/wal-host/scripts';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, makeSegment, removeDir, run, runWal, seg, tempDir, waitFor, writeHostConfig } from './harness';

// wal-fetch as PostgreSQL's restore_command runs it: exit 0 fetched, 1 ONLY for "not
// archived", 200 for any other trouble (PostgreSQL then stops recovery instead of ending it).
let base: string;
let bundle: string;
let endpoint: EndpointUnderTest;
let dataDir: string;
let config: string;
const target = 'pg_wal/RECOVERYXLOG';
const exists = (path: string) => access(path).then(() => true, () => false);
const list = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();

beforeAll(async () => {
  base = await tempDir('sbx-walfetch-');
  [bundle, endpoint] = await Promise.all([buildBundle(base), startEndpointUnderTest()]);
  ({ dataDir } = await makeDataDir(base));
  config = await writeHostConfig(base, endpoint, { fetch: { attempts: 3, retryDelayMs: 20, maxDelayMs: 40, prefetch: 0 } });
});
afterAll(async () => {
  await endpoint?.stop();
  await removeDir(base);
});

function fetch(name: string, configPath = config) {
  return runWal(bundle, ['wal-fetch', name, target, '--config', configPath], { cwd: dataDir });
}

async function restored(): Promise<Buffer | undefined> {
  const bytes = await readFile(join(dataDir, target)).catch(() => undefined);
  await rm(join(dataDir, target), { force: true });
  return bytes;
}

describe('wal-fetch', () => {
  it.each([
    ['zstd', 11],
    ['gzip', 21],
    ['none', 22],
  ] as const)('restores a %s-stored segment onto the target, exit 0, no temp file left', async (compression, segno) => {
    // Prepare
    const bytes = makeSegment(segno);
    await endpoint.seed(seg(segno), bytes, compression);

    // Act
    const result = await fetch(seg(segno));

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect((await restored())?.equals(bytes)).toBe(true);
    expect(await exists(join(dataDir, `${target}.strongbox.tmp`))).toBe(false);
  });

  it('restores a zstd-stored segment on a host without in-process zstd (decoded in JavaScript), exit 0', async () => {
    // Prepare
    const bytes = makeSegment(23);
    await endpoint.seed(seg(23), bytes, 'zstd');

    // Act
    const result = await runWal(bundle, ['wal-fetch', seg(23), target, '--config', config], { cwd: dataDir, env: { ...process.env, STRONGBOX_ZSTD_NATIVE: 'off' } });

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect((await restored())?.equals(bytes)).toBe(true);
  });

  it('exits 1 for a segment that is not archived, and quietly for a history probe', async () => {
    const segment = await fetch(seg(12));
    expect(segment.code).toBe(1);
    expect(segment.stderr).toContain('WAL_NOT_FOUND');
    const history = await fetch('00000009.history');
    expect(history).toMatchObject({ code: 1, stderr: '' });
    expect(await restored()).toBeUndefined();
  });

  it('exits 200 after the configured tries when the endpoint keeps failing', async () => {
    // Prepare
    await endpoint.seed(seg(13), makeSegment(13), 'gzip');
    endpoint.faults.failStatus = 503;
    const before = endpoint.requests.length;
    try {
      // Act
      const result = await fetch(seg(13));

      // Assess
      expect(result.code).toBe(200);
      expect(endpoint.requests.length - before).toBe(3);
      expect(result.stderr).toContain('STORAGE_FAILED');
    } finally {
      endpoint.faults.failStatus = undefined;
    }
    expect(await restored()).toBeUndefined();
  });

  it('exits 200 when the endpoint is down, and 200 (not 1) for a bad config', async () => {
    await mkdir(join(base, 'down'), { recursive: true });
    const down = await writeHostConfig(join(base, 'down'), { url: 'http://127.0.0.1:1', token: 't' }, { fetch: { attempts: 2, retryDelayMs: 10 } });
    const unreachable = await fetch(seg(13), down);
    expect(unreachable.code).toBe(200);
    expect(unreachable.stderr).toContain('ENDPOINT_UNREACHABLE');
    const noConfig = await fetch(seg(13), join(base, 'missing.json'));
    expect(noConfig.code).toBe(200);
    expect(noConfig.stderr).toContain('CONFIG_INVALID');
  });

  it('exits 200 on a checksum mismatch and writes nothing', async () => {
    endpoint.faults.corruptDownload = true;
    try {
      const result = await fetch(seg(13));
      expect(result.code).toBe(200);
      expect(result.stderr).toContain('CHECKSUM_MISMATCH');
    } finally {
      endpoint.faults.corruptDownload = undefined;
    }
    expect(await restored()).toBeUndefined();
  });

  it('exits 200 when the stored bytes decompress to other bytes than the record says: nothing at %p, nothing left in the spool', async () => {
    // Prepare: a record whose raw SHA-256 is not what its (intact) stored bytes decompress to
    await endpoint.seed(seg(14), makeSegment(14), 'zstd');
    await endpoint.tamper(seg(14), { record: { sha256: 'f'.repeat(64) } });

    // Act
    const result = await fetch(seg(14));

    // Assess
    expect(result.code).toBe(200);
    expect(result.stderr).toContain('CHECKSUM_MISMATCH');
    expect(result.stderr).toContain('decompressed it is');
    expect(await restored()).toBeUndefined();
    expect(await exists(join(dataDir, `${target}.strongbox.tmp`))).toBe(false);
    expect(await list(join(base, 'spool', 'tmp'))).toEqual([]);
  });

  it('exits 200 with WAL_CODEC_FAILED when stored bytes that match their record are not zstd at all', async () => {
    // Prepare
    const junk = Buffer.from('not a zstd frame, whatever the record claims');
    await endpoint.seed(seg(15), makeSegment(15), 'zstd');
    await endpoint.tamper(seg(15), { stored: junk, record: { storedSize: junk.length, storedSha256: createHash('sha256').update(junk).digest('hex') } });

    // Act
    const result = await fetch(seg(15));

    // Assess
    expect(result.code).toBe(200);
    expect(result.stderr).toContain('WAL_CODEC_FAILED');
    expect(await restored()).toBeUndefined();
    expect(await list(join(base, 'spool', 'tmp'))).toEqual([]);
  });

  it('writes whole or nothing: killed mid-download, nothing is at %p; stopped by SIGTERM, exit 200 and no temp file', async () => {
    // Prepare: a slow download (64 KiB every 100 ms)
    await endpoint.seed(seg(16), makeSegment(16), 'none');
    endpoint.faults.slowDownload = { chunk: 64 * 1024, delayMs: 100 };
    try {
      for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
        const child = spawn(process.execPath, [bundle, 'wal-fetch', seg(16), target, '--config', config], { cwd: dataDir, stdio: 'ignore' });
        const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })));

        // Act
        await endpoint.nextDownload();
        child.kill(signal);
        const status = await exited;

        // Assess
        expect(status).toEqual(signal === 'SIGKILL' ? { code: null, signal: 'SIGKILL' } : { code: 200, signal: null });
        expect(await exists(join(dataDir, target))).toBe(false);
        if (signal === 'SIGTERM') expect(await exists(join(dataDir, `${target}.strongbox.tmp`))).toBe(false);
      }
    } finally {
      endpoint.faults.slowDownload = undefined;
    }
  });
});

describe('prefetch', () => {
  let prefetchConfig: string;
  let spool: string;
  let fetchScript: string;
  // Around the 4 GiB boundary of 1 MiB segments: names there are right only with the archive's segment size.
  const first = 4094;
  const raws = new Map<number, Buffer>();

  beforeAll(async () => {
    const dir = join(base, 'prefetch');
    await mkdir(dir, { recursive: true });
    // Idle exit after 8 s: long enough that a loaded CI host never sees it between two fetches of a
    // test (5 s was once too short on a clean-clone run of the whole suite), short enough for the last test.
    prefetchConfig = await writeHostConfig(dir, endpoint, { fetch: { prefetch: 5, prefetchIdleMs: 8000, attempts: 1 } });
    spool = join(dir, 'spool');
    // first+6 is missing: a gap, with first+7 archived behind it
    for (const segno of [first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 7]) {
      raws.set(segno, makeSegment(segno));
      await endpoint.seed(seg(segno), raws.get(segno)!, 'zstd');
    }
    ({ fetchScript } = await writeHostScripts({ dir: join(dir, 'bin'), nodePath: process.execPath, bundlePath: bundle, configPath: prefetchConfig }));
  });

  it('fills in/ with the next segments, and the next fetches use them even with the endpoint down', async () => {
    // Act: recovery fetches the first segment
    const result = await fetch(seg(first), prefetchConfig);
    expect(result.code).toBe(0);
    expect((await restored())?.equals(raws.get(first)!)).toBe(true);

    // Assess: the five next ones arrive, verified and decompressed
    const inDir = join(spool, 'in');
    const ahead = [1, 2, 3, 4, 5].map((i) => seg(first + i));
    expect(ahead).toContain('000000010000000100000000');
    await waitFor('five prefetched segments', async () => (await list(inDir)).filter((name) => ahead.includes(name)).length === 5);
    for (let i = 1; i <= 5; i++) expect((await readFile(join(inDir, seg(first + i)))).equals(raws.get(first + i)!)).toBe(true);

    // Act: the endpoint goes down; node and then the shell fast path serve from in/
    endpoint.faults.failStatus = 503;
    try {
      const byNode = await fetch(seg(first + 1), prefetchConfig);
      const node = await restored();
      const byShell = await run(fetchScript, [seg(first + 2), target], { cwd: dataDir });
      const shell = await restored();

      // Assess
      expect(byNode.code, byNode.stderr).toBe(0);
      expect(node?.equals(raws.get(first + 1)!)).toBe(true);
      expect(byShell.code, byShell.stderr).toBe(0);
      expect(shell?.equals(raws.get(first + 2)!)).toBe(true);
      expect(await exists(join(inDir, seg(first + 1)))).toBe(false);
      console.log(`wal-fetch from the spool: node ${byNode.ms.toFixed(0)} ms, shell ${byShell.ms.toFixed(0)} ms`);
    } finally {
      endpoint.faults.failStatus = undefined;
    }
  });

  it('stops at the first segment that is not archived, then exits when idle and empties in/', async () => {
    // The window after first+2 is first+3..first+7; first+6 is not archived, so first+7 is never asked for
    const inDir = join(spool, 'in');
    const expected = [3, 4, 5].map((i) => seg(first + i)).sort();
    await waitFor('the window up to the gap', async () => JSON.stringify(await list(inDir)) === JSON.stringify(expected));
    await waitFor('the prefetcher to exit', async () => !(await exists(join(spool, 'prefetcher.pid'))));
    expect(endpoint.requests.some((r) => r.path.includes(seg(first + 6)))).toBe(true);
    expect(endpoint.requests.some((r) => r.path.includes(seg(first + 7)))).toBe(false);
    expect(await list(inDir)).toEqual([]);
    expect(await readFile(join(spool, 'prefetcher.log'), 'utf8')).toContain('prefetcher exits');
  });

  it('a new recovery from an earlier segment gets nothing the previous one had fetched ahead: the archive is read again', async () => {
    // Prepare: a recovery at first+1 has first+2..first+5 fetched ahead
    const inDir = join(spool, 'in');
    expect((await fetch(seg(first + 1), prefetchConfig)).code).toBe(0);
    const ahead = [2, 3, 4, 5].map((i) => seg(first + i)).sort();
    await waitFor('the window after first+1', async () => JSON.stringify(await list(inDir)) === JSON.stringify(ahead));
    const asked = () => endpoint.requests.filter((r) => r.path.includes(seg(first + 3))).length;
    const before = asked();

    // Act: a new recovery begins at the first segment (a drill after a drill)
    expect((await fetch(seg(first), prefetchConfig)).code).toBe(0);

    // Assess: first+3 is fetched from the archive again, not served from what the earlier recovery left
    await waitFor('first+3 fetched again', async () => asked() > before && (await list(inDir)).includes(seg(first + 3)));
  });
});
