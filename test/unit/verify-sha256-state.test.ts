import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ResumableSha256 } from '../../shared/domain/sha256-state';

const native = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('ResumableSha256 (the hash a verification carries from one invocation to the next)', () => {
  it.each([0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 65_537])('equals OpenSSL on %i bytes', (size) => {
    const data = randomBytes(size);
    expect(new ResumableSha256().update(data).digest()).toBe(native(data));
  });

  it('equals OpenSSL on the FIPS 180-4 examples', () => {
    expect(new ResumableSha256().update(Buffer.from('abc')).digest()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(new ResumableSha256().update(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).digest()).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('saved at any point and taken up through JSON, in pieces of any size, gives the same digest', () => {
    const data = randomBytes(10_000);
    for (let trial = 0; trial < 200; trial += 1) {
      let hash = new ResumableSha256();
      for (let offset = 0; offset < data.length; ) {
        const take = 1 + Math.floor(Math.random() * 700);
        hash.update(data.subarray(offset, offset + take));
        offset += take;
        if (Math.random() < 0.3) hash = ResumableSha256.resume(JSON.parse(JSON.stringify(hash.save())));
      }
      expect(hash.digest()).toBe(native(data));
    }
  });

  it('refuses a state that is not one', () => {
    expect(() => ResumableSha256.resume({ h: 'zz', length: '0', pending: '' })).toThrow(/not a saved/);
    expect(() => ResumableSha256.resume({ h: '0'.repeat(64), length: '3', pending: '' })).toThrow(/disagree/);
  });
});
