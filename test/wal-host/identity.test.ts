import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileIdentity, IDENTITY_SHELL } from '../../shared/wal-host/identity';
import { removeDir, run, tempDir } from './harness';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('sbx-walid-');
});
afterAll(() => removeDir(dir));

async function shellIdentity(path: string): Promise<string> {
  const result = await run('/bin/sh', ['-c', `p="$1"\n${IDENTITY_SHELL}\nprintf '%s' "$id"`, 'sh', path]);
  expect(result.code).toBe(0);
  return result.stdout;
}

describe('file identity', () => {
  it('is dev:ino:size:mtimeNs, and the shell fast path computes exactly the same string', async () => {
    // Prepare: a nanosecond mtime with leading zeros in its fraction
    const path = join(dir, 'a');
    await writeFile(path, 'x'.repeat(1234));
    await utimes(path, 1795490000.000_012, 1795490000.000_012);
    const st = await stat(path, { bigint: true });

    // Act
    const node = await fileIdentity(path);

    // Assess
    expect(node).toBe(`${st.dev}:${st.ino}:1234:${st.mtimeNs}`);
    expect(node).toMatch(/^\d+:\d+:1234:1795490000\d{9}$/);
    expect(await shellIdentity(path)).toBe(node);
  });

  it('changes when the same name holds another file (recycled segment) or the file is rewritten', async () => {
    // Prepare
    const path = join(dir, 'b');
    await writeFile(path, 'same');
    const before = await fileIdentity(path);

    // Act: same name and size, another inode
    await writeFile(join(dir, 'b2'), 'same');
    await rename(join(dir, 'b2'), path);
    const replaced = await fileIdentity(path);
    // same inode, new mtime
    await utimes(path, new Date(), new Date(Date.now() + 5000));
    const touched = await fileIdentity(path);

    // Assess
    expect(new Set([before, replaced, touched]).size).toBe(3);
    expect(await shellIdentity(path)).toBe(touched);
  });

  it('is empty in the shell for a missing file (never matches a marker)', async () => {
    expect(await shellIdentity(join(dir, 'missing'))).toBe('');
  });
});
