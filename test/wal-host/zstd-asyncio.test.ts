import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zstdDecodeFile, zstdFile } from '../../shared/wal-host/codec';
import { ZstdRunners } from '../../shared/wal-host/zstd-runner';
import { makeSegment, removeDir, tempDir } from './harness';

// zstd 1.5.3+ reads and writes on a second thread unless told `--no-asyncio`, which costs a
// busy host CPU; older zstd refuses the option. Both kinds of zstd must keep working: a
// wrapper logs every command line and, as "old", refuses the option as zstd < 1.5.3 does.
let base: string;
let scratch: string;
const realZstd = execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim();

beforeAll(async () => {
  base = await tempDir('sbx-zstdaio-');
  scratch = join(base, 'scratch');
  await mkdir(scratch);
});
afterAll(async () => removeDir(base));

/** Whether a logged command line asked for the version: `-V` as an argument, not inside a
 * path (a temporary folder named `sbx-zstdaio-V…` would contain it). */
const asksVersion = (line: string): boolean => line.split(' ').includes('-V');

/** A zstd wrapper logging its arguments to `<name>.log`; `old` refuses --no-asyncio. */
async function wrapper(name: string, old: boolean): Promise<{ path: string; calls: () => Promise<string[]> }> {
  const path = join(base, name);
  const log = `${path}.log`;
  const refuse = old ? `case " $* " in *" --no-asyncio "*) echo "Incorrect parameters" >&2; exit 1;; esac\n` : '';
  await writeFile(path, `#!/bin/sh\necho "$*" >> '${log}'\n${refuse}exec '${realZstd}' "$@"\n`);
  await chmod(path, 0o755);
  await rm(log, { force: true });
  return { path, calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean) };
}

describe('zstd without its I/O thread', () => {
  /** A round trip through kept runners, then through runners made per call (as wal-push and wal-fetch make them). */
  async function roundTrips(zstd: string, name: string, raw: Buffer): Promise<Buffer[]> {
    const input = join(scratch, `${name}.raw`);
    await writeFile(input, raw);
    const runners = new ZstdRunners(zstd);
    try {
      await runners.compress(input, join(scratch, `${name}.zst`));
      await runners.decompress(join(scratch, `${name}.zst`), join(scratch, `${name}.back`));
    } finally {
      runners.close();
    }
    const stored = (await zstdFile(input, scratch, (size) => Buffer.alloc(size), { zstd }))!;
    await zstdDecodeFile(stored, join(scratch, `${name}.again`), scratch, new Set(), { zstd });
    return [await readFile(join(scratch, `${name}.back`)), await readFile(join(scratch, `${name}.again`))];
  }

  it('a zstd that knows --no-asyncio gets it, through kept runners and through runners made per call', async () => {
    // Prepare
    const zstd = await wrapper('zstd-new', false);
    const raw = makeSegment(3);

    // Act
    const back = await roundTrips(zstd.path, 'new', raw);

    // Assess
    for (const copy of back) expect(copy.equals(raw)).toBe(true);
    const calls = await zstd.calls();
    expect(calls.filter(asksVersion)).toHaveLength(3);
    const work = calls.filter((line) => !asksVersion(line));
    expect(work).toHaveLength(4);
    for (const line of work) expect(line.split(' ')).toContain('--no-asyncio');
  });

  it('a zstd older than 1.5.3 works as before: each runner asks once and never passes the option', async () => {
    // Prepare
    const zstd = await wrapper('zstd-old', true);
    const raw = makeSegment(4);

    // Act
    const back = await roundTrips(zstd.path, 'old', raw);

    // Assess
    for (const copy of back) expect(copy.equals(raw)).toBe(true);
    const calls = await zstd.calls();
    expect(calls.filter(asksVersion)).toHaveLength(3);
    const work = calls.filter((line) => !asksVersion(line));
    expect(work).toHaveLength(4);
    for (const line of work) expect(line.split(' ')).not.toContain('--no-asyncio');
  });
});
