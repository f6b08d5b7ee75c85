import { spawn } from 'node:child_process';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetAllBut } from '../../shared/wal-host/uploader';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, MIB, removeDir, seg, SYSTEM_ID, tempDir, waitFor, writeHostConfig } from './harness';

// The uploader's memory follows pg_wal's backlog, never its history (issue 16 point 5): what
// it remembers of files is pruned to the files still `.ready`, and each scan takes only as
// many files as it has free push slots. A backlog of 20,000 segments (sparse 1 MiB files:
// a header page, then a hole) waits in pg_wal; the uploader, a real child process, pushes
// the first ones through the real endpoint, and its peak RSS (VmHWM) is read.
const BACKLOG = Number(process.env.H5_BACKLOG ?? 20_000);
const PUSHED = 300;
let base: string;
let bundle: string;
let endpoint: EndpointUnderTest;
let walDir: string;
let config: string;

/** A segment as PostgreSQL starts one: the long page header, then zeros (a hole on disk). */
async function sparseSegment(dir: string, segno: number): Promise<void> {
  const header = Buffer.alloc(8192);
  header.writeUInt16LE(0xd110, 0);
  header.writeUInt16LE(0x0002, 2);
  header.writeUInt32LE(1, 4);
  header.writeBigUInt64LE(BigInt(segno) * BigInt(MIB), 8);
  header.writeBigUInt64LE(BigInt(SYSTEM_ID), 24);
  header.writeUInt32LE(MIB, 32);
  header.writeUInt32LE(8192, 36);
  const file = await open(join(dir, seg(segno)), 'wx');
  await file.write(header, 0, header.length, 0);
  await file.truncate(MIB);
  await file.close();
  await (await open(join(dir, 'archive_status', `${seg(segno)}.ready`), 'wx')).close();
}

beforeAll(async () => {
  base = await tempDir('sbx-walmem-');
  const spool = join(base, 'spool');
  [bundle, endpoint] = await Promise.all([buildBundle(base), startEndpointUnderTest({ handoff: join(spool, 'tmp') })]);
  ({ walDir } = await makeDataDir(base));
  config = await writeHostConfig(base, endpoint, { uploader: { idleExitMs: 600_000, scanIntervalMs: 50 } });
  for (let segno = 1; segno <= BACKLOG; segno += 500) {
    await Promise.all(Array.from({ length: Math.min(500, BACKLOG - segno + 1) }, (_, i) => sparseSegment(walDir, segno + i)));
  }
}, 300_000);
afterAll(async () => {
  await endpoint?.stop();
  await removeDir(base);
});

describe('the uploader with a large backlog', () => {
  it(`keeps its peak RSS under 100 MB while ${BACKLOG} segments wait`, async () => {
    // Act: the uploader starts on the backlog and pushes its first segments
    const uploader = spawn(process.execPath, [bundle, 'uploader', '--config', config, '--wal-dir', walDir], { stdio: 'ignore' });
    const exited = new Promise((resolve) => uploader.once('close', resolve));
    let peakKiB: number;
    try {
      await waitFor(`${PUSHED} markers`, async () => (await readdir(join(base, 'spool', 'out')).catch(() => [] as string[])).filter((entry) => entry.endsWith('.link')).length >= PUSHED, 240_000);
      const status = await readFile(`/proc/${uploader.pid}/status`, 'utf8');
      peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    } finally {
      uploader.kill('SIGTERM');
      await exited;
    }

    // Assess: the oldest went first, and the peak
    expect(await endpoint.record(seg(1))).toBeDefined();
    console.log(`uploader peak RSS with ${BACKLOG} segments waiting, ${PUSHED}+ pushed: ${(peakKiB / 1024).toFixed(1)} MiB`);
    expect(peakKiB).toBeGreaterThan(0);
    expect(peakKiB / 1024).toBeLessThan(100);
  }, 300_000);

  it('forgets the files PostgreSQL is done with', () => {
    // Prepare: two files remembered as pushed, one backing off; only one is still .ready
    const state = { pushed: new Map([['A', 'id-a'], ['B', 'id-b']]), backoff: new Map([['C', { until: 1, delay: 1 }]]) };

    // Act
    forgetAllBut(new Set(['A']), state);

    // Assess
    expect([...state.pushed.keys()]).toEqual(['A']);
    expect(state.backoff.size).toBe(0);
  });
});
