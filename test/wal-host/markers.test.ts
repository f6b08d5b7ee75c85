import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileIdentity } from '../../shared/wal-host/identity';
import { writeMarker } from '../../shared/wal-host/uploader';
import { makeSegment, removeDir, seg, tempDir } from './harness';

// The uploader's marker of a file archived ahead: a hard link to the very file when the
// spool shares pg_wal's filesystem (the wal-push script checks it with `-ef`), else the
// `.ok` identity marker. /dev/shm (tmpfs) stands for a spool on another filesystem.
let base: string;
let walDir: string;
let otherFs: string;

beforeAll(async () => {
  base = await tempDir('sbx-markers-');
  walDir = join(base, 'pg_wal');
  await mkdir(walDir);
  otherFs = await mkdtemp('/dev/shm/sbx-markers-');
  if ((await stat(otherFs)).dev === (await stat(base)).dev) throw new Error('this test needs /dev/shm on another filesystem than the temporary folder (a tmpfs, as on Debian)');
});
afterAll(async () => {
  await removeDir(base);
  await rm(otherFs, { recursive: true, force: true });
});

describe('writeMarker', () => {
  it('links the very file when the spool is on pg_wal\'s filesystem', async () => {
    // Prepare
    const name = seg(1);
    await writeFile(join(walDir, name), makeSegment(1));
    const spool = join(base, 'spool');
    await mkdir(join(spool, 'out'), { recursive: true });

    // Act
    await writeMarker(spool, walDir, name, await fileIdentity(join(walDir, name)));

    // Assess
    expect(await fileIdentity(join(spool, 'out', `${name}.link`))).toBe(await fileIdentity(join(walDir, name)));
    expect(await readdir(join(spool, 'out'))).toEqual([`${name}.link`]);
  });

  it('writes the identity marker when the spool is on another filesystem, leaving no temporary file', async () => {
    // Prepare
    const name = seg(2);
    await writeFile(join(walDir, name), makeSegment(2));
    await mkdir(join(otherFs, 'out'), { recursive: true });
    const identity = await fileIdentity(join(walDir, name));

    // Act
    await writeMarker(otherFs, walDir, name, identity);

    // Assess
    expect((await readFile(join(otherFs, 'out', `${name}.ok`), 'utf8')).trim()).toBe(identity);
    expect(await readdir(join(otherFs, 'out'))).toEqual([`${name}.ok`]);
  });

  it('writes the identity marker, not a link, when the file is no longer the one pushed', async () => {
    // Prepare: the identity pushed was of an earlier file under this name
    const name = seg(3);
    await writeFile(join(walDir, name), makeSegment(3));
    const spool = join(base, 'spool3');
    await mkdir(join(spool, 'out'), { recursive: true });

    // Act
    await writeMarker(spool, walDir, name, '1:2:3:4');

    // Assess: the .ok marker holds the pushed identity, which the scripts will not honor for this file
    expect(await readdir(join(spool, 'out'))).toEqual([`${name}.ok`]);
    expect((await readFile(join(spool, 'out', `${name}.ok`), 'utf8')).trim()).toBe('1:2:3:4');
  });
});
