import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ResumableSha256, SHA256_STATE_FORMAT } from '../../shared/domain/sha256-state';

const native = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('ResumableSha256 (the hash a verification carries from one invocation to the next)', () => {
  it.each([0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 65_537])('equals OpenSSL on %i bytes', async (size) => {
    const data = randomBytes(size);
    expect((await ResumableSha256.create()).update(data).digest()).toBe(native(data));
  });

  it('equals OpenSSL on the FIPS 180-4 examples', async () => {
    expect((await ResumableSha256.create()).update(Buffer.from('abc')).digest()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect((await ResumableSha256.create()).update(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).digest()).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('saved at any point and taken up through JSON, in pieces of any size, gives the same digest and length', async () => {
    const data = randomBytes(10_000);
    for (let trial = 0; trial < 200; trial += 1) {
      let hash = await ResumableSha256.create();
      for (let offset = 0; offset < data.length; ) {
        const take = 1 + Math.floor(Math.random() * 700);
        hash.update(data.subarray(offset, offset + take));
        offset += take;
        if (Math.random() < 0.3) {
          hash = await ResumableSha256.resume(JSON.parse(JSON.stringify(hash.save())));
          expect(hash.bytes).toBe(BigInt(Math.min(offset, data.length)));
        }
      }
      expect(hash.digest()).toBe(native(data));
    }
  });

  it('keeps its state small enough for a cursor', async () => {
    const hash = (await ResumableSha256.create()).update(randomBytes(1000));
    expect(JSON.stringify(hash.save()).length).toBeLessThan(300);
  });

  it("refuses a state that is not one, or another version's", async () => {
    const state = (await ResumableSha256.create()).update(Buffer.from('abc')).save();
    await expect(ResumableSha256.resume({ ...state, format: 'hash-wasm@0.0.1' })).rejects.toThrow(/written by hash-wasm@0.0.1/);
    await expect(ResumableSha256.resume({ ...state, length: 'x' })).rejects.toThrow(/not a saved/);
    await expect(ResumableSha256.resume({ ...state, state: Buffer.from('garbage').toString('base64') })).rejects.toThrow(/not a saved/);
  });

  it('names the installed hash-wasm as its state format', () => {
    const installed = JSON.parse(readFileSync('node_modules/hash-wasm/package.json', 'utf8')) as { version: string };
    expect(SHA256_STATE_FORMAT).toBe(`hash-wasm@${installed.version}`);
  });
});
