import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderStorage } from '../../../shared/adapters/storage/folder';
import { StorageError } from '../../../shared/errors';
import { storageContract, streamOf } from './contract';

storageContract('FolderStorage', async () => {
  const root = await mkdtemp(join(tmpdir(), 'strongbox-folder-contract-'));
  return { storage: new FolderStorage(root), teardown: () => rm(root, { recursive: true, force: true }) };
});

describe('FolderStorage specifics', () => {
  let root: string;
  let storage: FolderStorage;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'strongbox-folder-'));
    storage = new FolderStorage(join(root, 'repo'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('names itself by its absolute path', () => {
    const relative = new FolderStorage('some/where');
    expect(relative.bucket).toBe(join(process.cwd(), 'some/where'));
    expect(relative.location).toBe(`file://${join(process.cwd(), 'some/where')}`);
  });

  it('stores each key as a file under the root and leaves nothing in .tmp after failed or aborted writes', async () => {
    // Act
    await storage.putBytes('kept/one', 'kept');
    await expect(storage.putStream('failed/one', streamOf(randomBytes(3 * 1024 * 1024), { failWith: new Error('boom') }))).rejects.toThrow('boom');
    const controller = new AbortController();
    const aborted = storage.putStream('failed/two', streamOf(randomBytes(3 * 1024 * 1024)), { signal: controller.signal });
    setImmediate(() => controller.abort());
    await expect(aborted).rejects.toBeInstanceOf(StorageError);
    await expect(storage.putStream('failed/three', streamOf(Buffer.from('x')), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(StorageError);
    // Assess
    expect(await readdir(join(root, 'repo', '.tmp'))).toEqual([]);
    expect((await stat(join(root, 'repo', 'kept', 'one'))).size).toBe(4);
    await expect(stat(join(root, 'repo', 'failed'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never lists what is in .tmp, and refuses keys inside it', async () => {
    // Prepare: what a crash in the middle of a write leaves behind
    await mkdir(join(root, 'repo', '.tmp'), { recursive: true });
    await writeFile(join(root, 'repo', '.tmp', 'crashed.part'), 'half');
    // Act
    const keys: string[] = [];
    for await (const object of storage.list('')) keys.push(object.key);
    // Assess
    expect(keys.some((key) => key.startsWith('.tmp'))).toBe(false);
    expect(keys).toContain('kept/one');
    await expect(storage.putBytes('.tmp/x', 'x')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });

  it('lists in UTF-8 byte order even where a directory walk would not', async () => {
    const keys = ['order/b0', 'order/b/x', 'order/b.json', 'order/b-c', 'order/é', 'order/z'];
    for (const key of keys) await storage.putBytes(key, key);
    const listed: string[] = [];
    for await (const object of storage.list('order/')) listed.push(object.key);
    expect(listed).toEqual(['order/b-c', 'order/b.json', 'order/b/x', 'order/b0', 'order/z', 'order/é']);
  });

  it('removes folders left empty by a delete', async () => {
    await storage.putBytes('deep/a/b/c', 'x');
    await storage.putBytes('deep-sibling', 'x');
    await storage.delete(['deep/a/b/c']);
    await expect(stat(join(root, 'repo', 'deep'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stat(join(root, 'repo', 'deep-sibling'))).isFile()).toBe(true);
  });

  it('fails with a StorageError and a hint when a key collides with a folder', async () => {
    await storage.putBytes('clash/x', 'x');
    const error = await storage.putBytes('clash', 'y').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).hint).toMatch(/collide/);
    await expect(storage.putBytes('clash/x/y', 'z')).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    expect((await storage.getBytes('clash/x')).toString()).toBe('x');
  });

  it('fails with STORAGE_FAILED and a hint when the root is read-only', async () => {
    // Prepare: chmod does not stop root, the immutable attribute does
    const readOnly = join(root, 'read-only');
    await mkdir(readOnly);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync('chattr', ['+i', readOnly]);
    else await chmod(readOnly, 0o555);
    try {
      await expect(writeFile(join(readOnly, 'probe'), 'x')).rejects.toMatchObject({ code: expect.stringMatching(/^(EACCES|EPERM)$/) });
      const readOnlyStorage = new FolderStorage(readOnly);
      // Act
      const error = await readOnlyStorage.putStream('a/b', streamOf(Buffer.from('data'))).catch((e: unknown) => e);
      // Assess
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: 'STORAGE_FAILED', hint: expect.stringMatching(/writable/) });
      expect(await readOnlyStorage.head('a/b')).toBeUndefined();
    } finally {
      if (asRoot) execFileSync('chattr', ['-i', readOnly]);
      else await chmod(readOnly, 0o755);
    }
  });
});

describe('FolderStorage cold area', () => {
  let root: string;
  let storage: FolderStorage;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'strongbox-folder-cold-'));
    storage = new FolderStorage(root);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('moves objects under cold/ and still finds them by the same key: get, getBytes, head, list', async () => {
    // Prepare
    await storage.putBytes('logical/monthly/app/m1/dump', 'dump bytes');
    await storage.putBytes('logical/monthly/app/m1/manifest.json', '{}');
    await storage.putBytes('logical/monthly/app/m2/manifest.json', '{"m":2}');
    // Act
    await storage.moveToCold(['logical/monthly/app/m1/dump', 'logical/monthly/app/m1/manifest.json']);
    await storage.moveToCold(['logical/monthly/app/m1/dump']);
    // Assess
    expect(await readdir(join(root, 'cold/logical/monthly/app/m1'))).toEqual(['dump', 'manifest.json']);
    await expect(stat(join(root, 'logical/monthly/app/m1'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await storage.getBytes('logical/monthly/app/m1/dump')).toString()).toBe('dump bytes');
    const chunks: Buffer[] = [];
    for await (const chunk of await storage.get('logical/monthly/app/m1/dump')) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('dump bytes');
    expect(await storage.head('logical/monthly/app/m1/dump')).toMatchObject({ size: 10, cold: true });
    expect((await storage.head('logical/monthly/app/m2/manifest.json'))?.cold).toBeUndefined();
    const listed: string[] = [];
    for await (const info of storage.list('logical/monthly/')) listed.push(info.key);
    expect(listed).toEqual(['logical/monthly/app/m1/dump', 'logical/monthly/app/m1/manifest.json', 'logical/monthly/app/m2/manifest.json']);
    const everything: string[] = [];
    for await (const info of storage.list('')) everything.push(info.key);
    expect(everything.filter((key) => key.startsWith('cold/'))).toEqual([]);
  });

  it('deletes a cold object by its key, and a new write of the key replaces the cold copy', async () => {
    // Prepare
    await storage.putBytes('logical/monthly/app/m3/dump', 'old');
    await storage.putBytes('logical/monthly/app/m3/globals.sql', 'globals');
    await storage.moveToCold(['logical/monthly/app/m3/dump', 'logical/monthly/app/m3/globals.sql']);
    // Act
    await storage.putBytes('logical/monthly/app/m3/dump', 'new');
    await storage.delete(['logical/monthly/app/m3/globals.sql']);
    // Assess
    expect((await storage.getBytes('logical/monthly/app/m3/dump')).toString()).toBe('new');
    expect((await storage.head('logical/monthly/app/m3/dump'))?.cold).toBeUndefined();
    await expect(stat(join(root, 'cold/logical/monthly/app/m3'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await storage.head('logical/monthly/app/m3/globals.sql')).toBeUndefined();
  });

  it('refuses to move a key that is nowhere, and keys inside the cold area itself', async () => {
    await expect(storage.moveToCold(['logical/monthly/app/none/dump'])).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    await expect(storage.putBytes('cold/logical/x', 'x')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    await expect(storage.getBytes('cold/logical/x')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });
});

describe('FolderStorage links (restores read the stored file without copying it)', () => {
  let root: string;
  let storage: FolderStorage;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'strongbox-folder-link-'));
    storage = new FolderStorage(join(root, 'repo'));
    await mkdir(join(root, 'out'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('links the stored file; the link keeps its bytes when the key is rewritten or deleted', async () => {
    await storage.putBytes('logical/manual/app/a/dump', 'first bytes');
    expect(await storage.linkTo('logical/manual/app/a/dump', join(root, 'out', 'a'))).toBe(true);
    await storage.putBytes('logical/manual/app/a/dump', 'second bytes');
    await storage.delete(['logical/manual/app/a/dump']);
    expect((await readFile(join(root, 'out', 'a'))).toString()).toBe('first bytes');
  });

  it('links a cold object too; a missing key is OBJECT_NOT_FOUND; an existing destination is never overwritten', async () => {
    await storage.putBytes('logical/monthly/app/m/dump', 'cold bytes');
    await storage.moveToCold(['logical/monthly/app/m/dump']);
    expect(await storage.linkTo('logical/monthly/app/m/dump', join(root, 'out', 'm'))).toBe(true);
    expect((await readFile(join(root, 'out', 'm'))).toString()).toBe('cold bytes');
    await expect(storage.linkTo('logical/monthly/app/none/dump', join(root, 'out', 'n'))).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    await expect(storage.linkTo('logical/monthly/app/m/dump', join(root, 'out', 'm'))).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
  });

  it('answers false across filesystems (the caller copies): /dev/shm is a tmpfs', async () => {
    const shm = await mkdtemp('/dev/shm/strongbox-link-');
    try {
      await storage.putBytes('logical/manual/app/b/dump', 'bytes');
      expect(await storage.linkTo('logical/manual/app/b/dump', join(shm, 'b'))).toBe(false);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });
});
