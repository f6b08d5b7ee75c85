import { createRequire } from 'node:module';
import { StrongboxError } from '../errors';

/**
 * zstd in-process, the host's one zstd: the zstd-napi addon (the library's own C code behind
 * Node-API) when it loads, else Node's own zlib zstd (Node 22.15 and later: the ECS task
 * image, the Lambda runtime). With the addon a segment is compressed in ~31 ms of CPU with a
 * context kept for the process and decompressed in ~8–17 ms; Node 22's zlib takes ~41 and
 * ~34 ms (measured on this project's 2-core host). The addon is optional: `npm ci` builds
 * it where a compiler is, the build copies it beside the WAL bundle as `zstd.node`, and
 * STRONGBOX_ZSTD_NATIVE=off leaves it unloaded. With neither, codec.ts compresses with gzip
 * and decodes zstd in JavaScript (fzstd). Frames are the `zstd -1` command's: level 1,
 * content size and XXH64 checksum, so every side reads every other's.
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
}

/** In-process zstd. Both methods are synchronous (a segment blocks the thread ~30–40 ms). */
export interface NativeZstd {
  /** Where the addon was loaded from (the uploader's worker thread loads the same file); none for Node's zlib. */
  readonly path?: string;
  /** The addon's only: the largest frame `size` bytes can compress to (ZSTD_compressBound), for the uploader's worker. */
  bound?(size: number): number;
  /** zstd -1 of `raw` into a buffer of `take` (at least the bound); resolves the frame (a view of it). */
  compress(raw: Uint8Array, take: (size: number) => Buffer): Buffer;
  /**
   * Decompresses zstd bytes into a buffer of `take`, at most `size` bytes (the record's: a
   * frame may not say its size). Throws StrongboxError WAL_CODEC_FAILED when the bytes are
   * not zstd or decompress to more; the caller checks that they made exactly `size`.
   */
  decompress(stored: Uint8Array, size: number, take: (size: number) => Buffer): Buffer;
}

/** zstd's level for WAL, the command's `-1` (and the level pgBackRest is compared at). */
export const ZSTD_LEVEL = 1;

let loaded: NativeZstd | null | undefined;

/** The addon, else Node's zlib zstd, chosen once; undefined when neither is there. */
export function nativeZstd(): NativeZstd | undefined {
  if (loaded === undefined) loaded = loadAddon() ?? zlibZstd() ?? null;
  return loaded ?? undefined;
}

function loadAddon(): NativeZstd | undefined {
  if (/^(off|0|false|no)$/i.test(process.env.STRONGBOX_ZSTD_NATIVE ?? '')) return undefined;
  const require = createRequire(import.meta.url);
  // Beside the WAL bundle first (dist/zstd.node), then the package (tests, dist/cli.js).
  // A computed name: the bundler must not try to inline the addon.
  for (const candidate of ['./zstd.node', ['zstd-napi', 'binding'].join('/')]) {
    try {
      const path = require.resolve(candidate);
      return wrap(require(path) as Binding, path);
    } catch {
      // not there or not loadable on this host (another CPU, say): the next candidate, then zlib
    }
  }
  return undefined;
}

/**
 * The zstd of Node's zlib (Node 22.15+), when `zlib` has it (tests hand in a stand-in: this
 * project's Node is 20; checked by hand with Node 22.23.5, docs/wal.md).
 */
export function zlibZstd(zlib = process.getBuiltinModule('node:zlib') as unknown as Partial<ZlibZstd>): NativeZstd | undefined {
  const { zstdCompressSync: compress, zstdDecompressSync: decompress, constants } = zlib;
  if (!compress || !decompress || constants?.ZSTD_c_compressionLevel === undefined || constants.ZSTD_c_checksumFlag === undefined) return undefined;
  const params = { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL, [constants.ZSTD_c_checksumFlag]: 1 };
  return {
    compress(raw) {
      try {
        return compress(raw, { params, pledgedSrcSize: raw.length });
      } catch (error) {
        throw failed('zlib', error);
      }
    },
    decompress(stored, size) {
      try {
        return decompress(stored, { maxOutputLength: size });
      } catch (error) {
        throw damaged(`${(error as Error).message} (expected ${size} bytes)`, error);
      }
    },
  };
}

/** What Node 22.15+ adds to zlib (absent from Node 20's types). */
export interface ZlibZstd {
  zstdCompressSync(raw: Uint8Array, options: { params: Record<number, number>; pledgedSrcSize: number }): Buffer;
  zstdDecompressSync(stored: Uint8Array, options: { maxOutputLength: number }): Buffer;
  constants: { ZSTD_c_compressionLevel?: number; ZSTD_c_checksumFlag?: number };
}

function failed(which: string, error: unknown): StrongboxError {
  return new StrongboxError('WAL_CODEC_FAILED', `zstd (${which}) failed: ${(error as Error).message}`, 'the push is retried; if it persists, set STRONGBOX_ZSTD_NATIVE=off to leave the addon aside', { cause: error });
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
        throw failed('the zstd-napi addon', error);
      }
    },
    decompress(stored, size, take) {
      dctx ??= new binding.DCtx();
      const out = take(size);
      try {
        return out.subarray(0, dctx.decompress(out, stored));
      } catch (error) {
        dctx = undefined;
        throw damaged(`${(error as Error).message} (expected ${size} bytes)`, error);
      }
    },
  };
}

/** The error for bytes that do not decompress as their record says. */
export function damaged(detail: string, cause?: unknown, format = 'zstd'): StrongboxError {
  return new StrongboxError('WAL_CODEC_FAILED', `${format} data does not decompress: ${detail}`, 'the stored copy or the download is damaged; retry, then check the archive', cause === undefined ? undefined : { cause });
}
