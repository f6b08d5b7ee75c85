/**
 * SHA-256 (FIPS 180-4) whose running state can be saved and taken up again: a hash that a
 * verification started in one process (a Lambda invocation near its 15-minute limit) can
 * finish in another. node:crypto's hashes cannot be exported, hence this one. Pure; about
 * a quarter of OpenSSL's speed, so it is used only where the state must travel
 * (shared/usecases/verify-object.ts).
 */

/** The saved state: JSON-safe and small (under 300 bytes). */
export interface Sha256State {
  /** The eight working words, hex. */
  h: string;
  /** Bytes hashed so far (a decimal string: past 2^53 stays exact). */
  length: string;
  /** The bytes of an unfinished block (< 64), hex. */
  pending: string;
}

import { StrongboxError } from '../errors';

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** A running SHA-256: `update` any number of times, `save` at any point, `digest` once. */
export class ResumableSha256 {
  readonly #h = new Int32Array(INITIAL);
  readonly #w = new Int32Array(64);
  #pending: Buffer = Buffer.alloc(0);
  #length = 0n;

  /** Takes up a saved state (from `save`). Throws StrongboxError INPUT_INVALID for a state that is not one. */
  static resume(state: Sha256State): ResumableSha256 {
    const hash = new ResumableSha256();
    if (!/^[0-9a-f]{64}$/.test(state.h) || !/^\d+$/.test(state.length) || !/^(?:[0-9a-f]{2}){0,63}$/.test(state.pending)) throw new StrongboxError('INPUT_INVALID', 'not a saved SHA-256 state', 'verify the object again from its first byte: the saved state is damaged');
    const words = Buffer.from(state.h, 'hex');
    for (let i = 0; i < 8; i += 1) hash.#h[i] = words.readInt32BE(i * 4);
    hash.#length = BigInt(state.length);
    hash.#pending = Buffer.from(state.pending, 'hex');
    if (hash.#length % 64n !== BigInt(hash.#pending.length)) throw new StrongboxError('INPUT_INVALID', 'not a saved SHA-256 state: length and pending bytes disagree', 'verify the object again from its first byte: the saved state is damaged');
    return hash;
  }

  get bytes(): bigint {
    return this.#length;
  }

  update(data: Uint8Array): this {
    this.#length += BigInt(data.length);
    let offset = 0;
    if (this.#pending.length > 0) {
      const take = Math.min(64 - this.#pending.length, data.length);
      this.#pending = Buffer.concat([this.#pending, data.subarray(0, take)]);
      offset = take;
      if (this.#pending.length < 64) return this;
      this.#block(this.#pending, 0);
      this.#pending = Buffer.alloc(0);
    }
    for (; offset + 64 <= data.length; offset += 64) this.#block(data, offset);
    if (offset < data.length) this.#pending = Buffer.from(data.subarray(offset));
    return this;
  }

  save(): Sha256State {
    const words = Buffer.alloc(32);
    for (let i = 0; i < 8; i += 1) words.writeInt32BE(this.#h[i]!, i * 4);
    return { h: words.toString('hex'), length: this.#length.toString(), pending: this.#pending.toString('hex') };
  }

  /** Lower-case hex digest. The object is not to be used afterwards. */
  digest(_encoding: 'hex' = 'hex'): string {
    const bits = this.#length * 8n;
    const padLength = (this.#pending.length < 56 ? 56 : 120) - this.#pending.length;
    const tail = Buffer.alloc(padLength + 8);
    tail[0] = 0x80;
    tail.writeBigUInt64BE(bits, padLength);
    const length = this.#length;
    this.update(tail);
    this.#length = length;
    const out = Buffer.alloc(32);
    for (let i = 0; i < 8; i += 1) out.writeInt32BE(this.#h[i]!, i * 4);
    return out.toString('hex');
  }

  #block(data: Uint8Array, offset: number): void {
    compress(this.#h, this.#w, data, offset);
  }
}

/** One 64-byte block into the working words `h` (`w`: the message schedule's room). */
function compress(h: Int32Array, w: Int32Array, data: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i += 1) {
    const j = offset + i * 4;
    w[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
  }
  for (let i = 16; i < 64; i += 1) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let i = 0; i < 64; i += 1) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}
