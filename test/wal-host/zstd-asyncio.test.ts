import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, encode, ZstdCommand } from '../../shared/wal-host/codec';
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
  it('a zstd that knows --no-asyncio gets it, through the runners and through a direct spawn', async () => {
    // Prepare
    const zstd = await wrapper('zstd-new', false);
    const raw = makeSegment(3);
    const input = join(scratch, 'new.raw');
    await writeFile(input, raw);
    const runners = new ZstdRunners(zstd.path);

    // Act
    try {
      await runners.compress(input, join(scratch, 'new.zst'));
      await runners.decompress(join(scratch, 'new.zst'), join(scratch, 'new.back'));
    } finally {
      runners.close();
    }
    const stored = (await encode(raw, 'zstd', { zstd: zstd.path, native: null })).stored;
    const back = await decode(stored, 'zstd', { zstd: zstd.path, native: null });

    // Assess
    expect((await readFile(join(scratch, 'new.back'))).equals(raw)).toBe(true);
    expect(back.equals(raw)).toBe(true);
    const work = (await zstd.calls()).filter((line) => !asksVersion(line));
    expect(work).toHaveLength(4);
    for (const line of work) expect(line.split(' ')).toContain('--no-asyncio');
  });

  it('a zstd older than 1.5.3 works as before: the runners probe it, a direct spawn retries once without the option', async () => {
    // Prepare
    const zstd = await wrapper('zstd-old', true);
    const raw = makeSegment(4);
    const input = join(scratch, 'old.raw');
    await writeFile(input, raw);
    const runners = new ZstdRunners(zstd.path);

    // Act
    try {
      await runners.compress(input, join(scratch, 'old.zst'));
      await runners.decompress(join(scratch, 'old.zst'), join(scratch, 'old.back'));
    } finally {
      runners.close();
    }
    // One command for the process, as the uploader makes at start-up: it remembers the refusal.
    const command = new ZstdCommand(zstd.path);
    const stored = (await encode(raw, 'zstd', { command, native: null })).stored;
    const back = await decode(stored, 'zstd', { command, native: null });

    // Assess: the runner asked once (-V) and never passed the option; the direct spawn was
    // refused once, then remembered.
    expect((await readFile(join(scratch, 'old.back'))).equals(raw)).toBe(true);
    expect(back.equals(raw)).toBe(true);
    const calls = await zstd.calls();
    expect(calls.filter(asksVersion)).toHaveLength(1);
    const work = calls.filter((line) => !asksVersion(line));
    expect(work.map((line) => line.split(' ').includes('--no-asyncio'))).toEqual([false, false, true, false, false]);
  });
});
