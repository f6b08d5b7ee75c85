import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { ResumableSha256 } from '../../shared/domain/sha256-state';
import { hashObject } from '../../shared/usecases/verify-object';

const MIB = 1024 * 1024;

describe('hashObject taking up a cursor', () => {
  let dir: string;
  let storage: FolderStorage;
  const data = randomBytes(3 * MIB + 123);
  const expected = createHash('sha256').update(data).digest('hex');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-verify-resume-'));
    storage = new FolderStorage(dir);
    await storage.putBytes('object.bin', data);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('goes on from a cursor that paused after the first range', async () => {
    const first = await hashObject(storage, 'object.bin', data.length, { resumable: true, rangeBytes: MIB, concurrency: 2, shouldPause: () => true });
    expect(first.done).toBe(false);
    const cursor = first.done ? undefined : first.cursor;
    expect(cursor?.offset).toBe(MIB);
    const rest = await hashObject(storage, 'object.bin', data.length, { resumable: true, rangeBytes: MIB, ...(cursor ? { from: cursor } : {}) });
    expect(rest).toEqual({ done: true, bytes: data.length, sha256: expected });
  });

  it('starts again from byte 0 when the cursor holds another build\'s state (a deployment between two hops)', async () => {
    const state = { ...(await ResumableSha256.create()).update(data.subarray(0, MIB)).save(), format: 'hash-wasm@0.0.1' };
    const result = await hashObject(storage, 'object.bin', data.length, { resumable: true, rangeBytes: MIB, from: { offset: MIB, state } });
    expect(result).toEqual({ done: true, bytes: data.length, sha256: expected });
  });

  it('starts again from byte 0 when the cursor\'s offset disagrees with its state', async () => {
    const state = (await ResumableSha256.create()).update(data.subarray(0, MIB)).save();
    const result = await hashObject(storage, 'object.bin', data.length, { resumable: true, rangeBytes: MIB, from: { offset: 2 * MIB, state } });
    expect(result).toEqual({ done: true, bytes: data.length, sha256: expected });
  });
});
