import { createRequire } from 'node:module';
import { StrongboxError } from '../errors';

/**
 * zstd in-process, through the zstd-napi addon (the library's own C code behind Node-API),
 * when it is there: a segment is compressed in ~31 ms of CPU with a context kept for the
 * process, against ~41–63 ms for the `zstd` command plus its process, its output file and
 * reading that back (measured on this project's 2-core host); decompression ~8 ms against
 * ~22 ms. The addon is optional: `npm ci` builds it where a compiler is (it is an optional
 * dependency), the build copies it beside the WAL bundle as `zstd.node`, and without it (or
 * with STRONGBOX_ZSTD_NATIVE=off) the `zstd` command does the work as before. Frames are the
 * command's: level 1, content size and XXH64 checksum, so either side reads the other's.
 */

/** The part of the addon's API used here (zstd-napi's binding). */
interface Binding {
  CCtx: new () => {
    setParameter(param: number, value: number): void;
    compress2(dst: Uint8Array, src: Uint8Array): number;
  };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  CParameter: { compressionLevel: number; checksumFlag: number };
  compressBound(size: number): number;
  getFrameContentSize(frame: Uint8Array): number | null;
}

/** In-process zstd. Both methods are synchronous (a segment blocks the thread ~30 ms). */
export interface NativeZstd {
  /** Where the addon was loaded from (worker threads load the same file). */
  readonly path?: string;
  /** The largest frame `size` bytes can compress to (ZSTD_compressBound). */
  bound(size: number): number;
  /** zstd -1 of `raw` into a buffer of `take` (at least the bound); resolves the frame (a view of it). */
  compress(raw: Uint8Array, take: (size: number) => Buffer): Buffer;
  /**
   * Decompresses zstd bytes of `size` bytes (default: what the frame says) into a buffer of
   * `take`. Throws StrongboxError WAL_CODEC_FAILED when the bytes are not zstd or not that
   * size, or when neither the frame nor the caller says the size.
   */
  decompress(stored: Uint8Array, size: number | undefined, take: (size: number) => Buffer): Buffer;
}

/** zstd's level for WAL, the command's `-1` (and the level pgBackRest is compared at). */
export const ZSTD_LEVEL = 1;

/** The largest WAL segment PostgreSQL allows (1 GiB): no frame asks for more memory than that. */
const MAX_FILE = 1 << 30;

let loaded: NativeZstd | null | undefined;

/** The addon, loaded once; undefined when it is missing, does not load, or is turned off. */
export function nativeZstd(): NativeZstd | undefined {
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

function load(): NativeZstd | null {
  if (/^(off|0|false|no)$/i.test(process.env.STRONGBOX_ZSTD_NATIVE ?? '')) return null;
  const require = createRequire(import.meta.url);
  // Beside the WAL bundle first (dist/zstd.node), then the package (tests, dist/cli.js).
  // A computed name: the bundler must not try to inline the addon.
  for (const candidate of ['./zstd.node', ['zstd-napi', 'binding'].join('/')]) {
    try {
      const path = require.resolve(candidate);
      return wrap(require(path) as Binding, path);
    } catch {
      // not there or not loadable on this host: the next candidate, then the zstd command
    }
  }
  return null;
}

function wrap(binding: Binding, path: string): NativeZstd {
  let cctx: InstanceType<Binding['CCtx']> | undefined;
  let dctx: InstanceType<Binding['DCtx']> | undefined;
  return {
    path,
    bound: (size) => binding.compressBound(size),
    compress(raw, take) {
      if (!cctx) {
        cctx = new binding.CCtx();
        cctx.setParameter(binding.CParameter.compressionLevel, ZSTD_LEVEL);
        cctx.setParameter(binding.CParameter.checksumFlag, 1);
      }
      const out = take(binding.compressBound(raw.length));
      try {
        return out.subarray(0, cctx.compress2(out, raw));
      } catch (error) {
        cctx = undefined; // a context that failed mid-frame is not reused
        throw new StrongboxError('WAL_CODEC_FAILED', `zstd (in-process) failed: ${(error as Error).message}`, 'set STRONGBOX_ZSTD_NATIVE=off to use the zstd command instead; the push is retried', { cause: error });
      }
    },
    decompress(stored, size, take) {
      let declared: number | null;
      try {
        declared = binding.getFrameContentSize(stored);
      } catch (error) {
        throw damaged(`not a zstd frame (${(error as Error).message})`, error);
      }
      // zstd writing to a pipe does not put the size in the frame: the record's size stands in.
      if (declared !== null && size !== undefined && declared !== size) throw damaged(`the frame says ${declared} bytes, the record ${size}`);
      const expected = size ?? declared;
      if (expected === null) throw new StrongboxError('WAL_CODEC_FAILED', 'the zstd frame does not say its size, and none was given', "pass the record's size (every archived file's record has it)");
      if (expected > MAX_FILE) throw damaged(`the frame says ${expected} bytes, more than any WAL file`);
      dctx ??= new binding.DCtx();
      const out = take(expected);
      let written: number;
      try {
        written = dctx.decompress(out, stored);
      } catch (error) {
        dctx = undefined;
        throw damaged(`${(error as Error).message} (expected ${expected} bytes)`, error);
      }
      if (written !== expected) throw damaged(`it decompressed to ${written} bytes, not ${expected}`);
      return out.subarray(0, expected);
    },
  };
}

function damaged(detail: string, cause?: unknown): StrongboxError {
  return new StrongboxError('WAL_CODEC_FAILED', `zstd data does not decompress: ${detail}`, 'the stored copy or the download is damaged; retry, then check the archive', cause === undefined ? undefined : { cause });
}
