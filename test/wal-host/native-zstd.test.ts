import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, utimesSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StrongboxError } from '../../shared/errors';
import { installWalBundle } from '../../shared/local/archiving';
import { decode, encode } from '../../shared/wal-host/codec';
import { nativeZstd, type NativeZstd } from '../../shared/wal-host/native-zstd';
import { prepareWalFile } from '../../shared/wal-host/push-file';
import { runWithInput } from '../support/pg';
import { makeSegment, removeDir, ROOT, seg, tempDir } from './harness';

// zstd in-process through the optional zstd-napi addon. .ci/run installs it (npm ci builds it
// with the machine's compiler), so here it must be there: a missing addon fails this test
// instead of quietly testing the fallbacks (codec.test.ts) twice.
let base: string;
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => (base = await tempDir('sbx-nativezstd-')));
afterAll(async () => removeDir(base));

function addon(): NativeZstd {
  const native = nativeZstd();
  if (!native?.path) throw new Error('the zstd-napi addon did not load: run `npm ci` with python3, make and g++ present (it is built from source)');
  return native;
}

describe('in-process zstd', () => {
  it('is built and copied beside the WAL bundle', () => {
    addon();
    expect(existsSync(join(ROOT, 'dist/zstd.node'))).toBe(true);
  });

  it('writes the frames of `zstd -1` (size and checksum in them), which the command reads back', async () => {
    // Prepare
    const raw = makeSegment(5);

    // Act
    const { stored, compression } = await encode(raw, 'zstd');

    // Assess
    expect(compression).toBe('zstd');
    expect((await runWithInput('zstd', ['-d', '-q', '-c'], stored)).equals(raw)).toBe(true);
    const listing = (await runWithInput('sh', ['-c', 'cat > "$1" && zstd -lv "$1"', 'sh', join(base, 'frame.zst')], stored)).toString();
    expect(listing).toMatch(/Check: XXH64/);
    expect(listing).toContain(`(${raw.length} B)`);
  });

  it('reads what the command wrote, from a file (size in the frame) and from a pipe (no size in the frame: the record says it)', async () => {
    // Prepare
    const raw = makeSegment(6);
    const input = join(base, 'six');
    await writeFile(input, raw);
    const fromFile = await runWithInput('sh', ['-c', 'zstd -1 -q -c -- "$1"', 'sh', input], Buffer.alloc(0));
    const fromPipe = await runWithInput('zstd', ['-1', '-q', '-c'], raw);

    // Act
    const back = [await decode(fromFile, 'zstd', raw.length), await decode(fromPipe, 'zstd', raw.length)];

    // Assess
    for (const bytes of back) expect(sha(bytes)).toBe(sha(raw));
  });

  it('refuses bytes that are not zstd, a frame of another size than the record, and a cut frame, with WAL_CODEC_FAILED', async () => {
    // Prepare
    const raw = makeSegment(7);
    const { stored } = await encode(raw, 'zstd');
    const truncated = stored.subarray(0, stored.length - 100);

    // Act
    const errors = await Promise.all([
      decode(Buffer.from('definitely not compressed'), 'zstd', raw.length).catch((e: unknown) => e),
      decode(stored, 'zstd', raw.length - 1).catch((e: unknown) => e),
      decode(stored, 'zstd', raw.length + 1).catch((e: unknown) => e),
      decode(truncated, 'zstd', raw.length).catch((e: unknown) => e),
    ]);

    // Assess
    for (const error of errors as StrongboxError[]) {
      expect(error.code).toBe('WAL_CODEC_FAILED');
      expect(error.hint).toMatch(/damaged/);
    }
  });

  it('prepares a push from the bytes read once, and refuses a file that changed meanwhile (WAL_READ_FAILED)', async () => {
    // Prepare: an "addon" that lets the file change under the push, as a writer into pg_wal would
    const raw = makeSegment(8);
    const path = join(base, seg(8));
    await writeFile(path, raw);
    const touching: NativeZstd = {
      compress: (bytes, take) => {
        utimesSync(path, new Date('2001-01-01'), new Date('2001-01-01'));
        return addon().compress(bytes, take);
      },
      decompress: (...args) => addon().decompress(...args),
      bound: (size) => addon().bound!(size),
    };

    // Act
    const file = await prepareWalFile(path, 'zstd');
    let changed: StrongboxError | undefined;
    try {
      changed = (await prepareWalFile(path, 'zstd', { native: touching }).catch((e: unknown) => e)) as StrongboxError;
    } finally {
      file.release();
    }

    // Assess
    expect(file.declaration).toMatchObject({ size: raw.length, sha256: sha(raw), compression: 'zstd' });
    expect(file.declaration.storedSha256).toBe(sha(Buffer.from(file.stored)));
    expect((await runWithInput('zstd', ['-d', '-q', '-c'], file.stored)).equals(raw)).toBe(true);
    expect(changed?.code).toBe('WAL_READ_FAILED');
  });
});

describe('installWalBundle', () => {
  it('copies the addon beside the bundle it installs, and removes a stale one when the build made none', async () => {
    // Prepare
    const withAddon = join(base, 'build-a');
    const without = join(base, 'build-b');
    const bin = join(base, 'bin');
    await Promise.all([withAddon, without, bin].map((dir) => mkdir(dir, { recursive: true })));
    await Promise.all([writeFile(join(withAddon, 'wal.js'), 'a'), writeFile(join(withAddon, 'zstd.node'), 'addon'), writeFile(join(without, 'wal.js'), 'b')]);

    // Act
    const first = installWalBundle(join(withAddon, 'wal.js'), bin);
    const copied = await readFile(join(bin, 'zstd.node'), 'utf8');
    installWalBundle(join(without, 'wal.js'), bin);

    // Assess
    expect(first).toBe(join(bin, 'wal.js'));
    expect(copied).toBe('addon');
    expect(await readFile(first, 'utf8')).toBe('b');
    expect(existsSync(join(bin, 'zstd.node'))).toBe(false);
  });
});
