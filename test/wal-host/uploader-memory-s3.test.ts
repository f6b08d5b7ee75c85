import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentName } from '../../shared/domain/wal/names';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, MIB, removeDir, SYSTEM_ID, tempDir, waitFor, writeHostConfig } from './harness';

// The uploader's peak RSS with real 16 MiB segments on the path users run in AWS (issue 17
// point 4: under 100 MB whatever the backlog): the endpoint in presign mode over s3rver,
// a backlog of segments whose bytes compress as bulk-INSERT WAL does (~35 % with zstd -1),
// the uploader a real child process with its defaults (4 pushes in flight, the compression
// workers). Its peak RSS (VmHWM) is read once every segment is archived.
const SEGMENTS = Number(process.env.H17_SEGMENTS ?? 24);
const SIZE = 16 * MIB;
let base: string;
let bundle: string;
let endpoint: EndpointUnderTest;
let walDir: string;
let config: string;

/** A 16 MiB segment: the long page header, then 60 % hex text of random bytes, then zeros. */
function segment(segno: number, text: Buffer): Buffer {
  const bytes = Buffer.alloc(SIZE);
  text.copy(bytes, 64);
  bytes.writeUInt16LE(0xd110, 0);
  bytes.writeUInt16LE(0x0002, 2);
  bytes.writeUInt32LE(1, 4);
  bytes.writeBigUInt64LE(BigInt(segno) * BigInt(SIZE), 8);
  bytes.writeBigUInt64LE(BigInt(SYSTEM_ID), 24);
  bytes.writeUInt32LE(SIZE, 32);
  bytes.writeUInt32LE(8192, 36);
  return bytes;
}

const nameOf = (segno: number) => segmentName(1, BigInt(segno), SIZE);

beforeAll(async () => {
  base = await tempDir('sbx-walmem16-');
  [bundle, endpoint] = await Promise.all([buildBundle(base), startEndpointUnderTest({ mode: 'presign' })]);
  ({ walDir } = await makeDataDir(base));
  config = await writeHostConfig(base, endpoint, { uploader: { idleExitMs: 600_000, scanIntervalMs: 50 } });
  for (let segno = 1; segno <= SEGMENTS; segno++) {
    await writeFile(join(walDir, nameOf(segno)), segment(segno, Buffer.from(randomBytes(SIZE * 0.3).toString('hex'))));
    await writeFile(join(walDir, 'archive_status', `${nameOf(segno)}.ready`), '');
  }
}, 300_000);
afterAll(async () => {
  await endpoint?.stop();
  await removeDir(base);
});

describe('the uploader with 16 MiB segments, to S3 through presigned PUTs', () => {
  it(`keeps its peak RSS under 100 MB while it archives a backlog of ${SEGMENTS}`, async () => {
    // Act: the uploader archives the whole backlog
    const log = openSync(join(base, 'uploader.log'), 'a');
    const uploader = spawn(process.execPath, [bundle, 'uploader', '--config', config, '--wal-dir', walDir], { stdio: ['ignore', 'ignore', log] });
    closeSync(log);
    const exited = new Promise((resolve) => uploader.once('close', resolve));
    let peakKiB: number;
    try {
      const marked = async () => (await readdir(join(base, 'spool', 'out')).catch(() => [] as string[])).filter((entry) => entry.endsWith('.link')).length;
      await waitFor(`${SEGMENTS} markers`, async () => (await marked()) >= SEGMENTS, 600_000).catch(async (error: Error) => {
        throw new Error(`${error.message}; the uploader's log ends: ${(await readFile(join(base, 'uploader.log'), 'utf8')).slice(-2000)}`);
      });
      const status = await readFile(`/proc/${uploader.pid}/status`, 'utf8');
      peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    } finally {
      uploader.kill('SIGTERM');
      await exited;
    }

    // Assess: every segment archived (the last one checked whole), and the peak
    const last = await endpoint.record(nameOf(SEGMENTS));
    expect(last?.size).toBe(SIZE);
    expect(last!.storedSize / SIZE).toBeLessThan(0.5);
    console.log(`uploader peak RSS archiving ${SEGMENTS} segments of 16 MiB to s3rver: ${(peakKiB / 1024).toFixed(1)} MiB`);
    expect(peakKiB).toBeGreaterThan(0);
    expect(peakKiB / 1024).toBeLessThan(100);
  }, 700_000);
});
