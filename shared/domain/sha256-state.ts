/**
 * SHA-256 whose running state can be saved and taken up again: a hash that a verification
 * started in one process (a Lambda invocation near its 15-minute limit) can finish in
 * another. node:crypto's hashes cannot be exported, so this one is hash-wasm's (WebAssembly;
 * its `save()`/`load()` exist for exactly this). Measured here on the same bytes: about
 * twice a hand-written TypeScript SHA-256 and a third to a quarter of OpenSSL's, so it is
 * used only where the state must travel (shared/usecases/verify-object.ts).
 */
import { createSHA256, type IHasher } from 'hash-wasm';
import { StrongboxError } from '../errors';

/**
 * Which implementation wrote a state. hash-wasm's saved state is only valid for the build
 * that wrote it; a state from another (a deployment between two hops) is refused, and the
 * verification starts the object again. Kept equal to the installed version by a test.
 */
export const SHA256_STATE_FORMAT = 'hash-wasm@4.13.0';

/** The saved state: JSON-safe and small (under 300 bytes). */
export interface Sha256State {
  /** SHA256_STATE_FORMAT of the writer. */
  format: string;
  /** hash-wasm's saved state, base64. */
  state: string;
  /** Bytes hashed so far (a decimal string: past 2^53 stays exact). */
  length: string;
}

function damaged(why: string, cause?: unknown): StrongboxError {
  return new StrongboxError('INPUT_INVALID', `not a saved SHA-256 state: ${why}`, 'verify the object again from its first byte: the saved state is damaged or from another version', cause === undefined ? undefined : { cause });
}

/** A running SHA-256: `update` any number of times, `save` at any point, `digest` once. */
export class ResumableSha256 {
  #length = 0n;

  private constructor(private readonly hasher: IHasher) {}

  /** A new hash from the first byte. */
  static async create(): Promise<ResumableSha256> {
    const hasher = await createSHA256();
    hasher.init();
    return new ResumableSha256(hasher);
  }

  /** Takes up a saved state (from `save`). Throws StrongboxError INPUT_INVALID for a state that is not one, or is another version's. */
  static async resume(state: Sha256State): Promise<ResumableSha256> {
    if (state.format !== SHA256_STATE_FORMAT) throw damaged(`written by ${String(state.format)}, this is ${SHA256_STATE_FORMAT}`);
    if (!/^\d+$/.test(state.length) || typeof state.state !== 'string') throw damaged('length or state missing');
    const hasher = await createSHA256();
    try {
      hasher.load(Buffer.from(state.state, 'base64'));
    } catch (error) {
      throw damaged('the hash refused it', error);
    }
    const hash = new ResumableSha256(hasher);
    hash.#length = BigInt(state.length);
    return hash;
  }

  get bytes(): bigint {
    return this.#length;
  }

  update(data: Uint8Array): this {
    this.hasher.update(data);
    this.#length += BigInt(data.length);
    return this;
  }

  save(): Sha256State {
    return { format: SHA256_STATE_FORMAT, state: Buffer.from(this.hasher.save()).toString('base64'), length: this.#length.toString() };
  }

  /** Lower-case hex digest. The object is not to be used afterwards. */
  digest(_encoding: 'hex' = 'hex'): string {
    return this.hasher.digest('hex');
  }
}
