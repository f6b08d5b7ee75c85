import type { FileHandle } from 'node:fs/promises';
import { decompress as zstdInJavaScript } from 'fzstd';
import type { WalCompression } from '../domain/wal/keys';
import { logLine } from './log';
import { damaged, nativeZstd, type NativeZstd } from './native-zstd';

/**
 * Compression of one WAL file, whole in memory (a segment is 16 MiB by default). zstd is the
 * in-process one of native-zstd.ts (the addon, else Node's zlib), the host's only zstd. A
 * host with neither (Node 20 without a compiler at `npm ci`) still archives and recovers:
 * pushes compress with gzip, fetches decode zstd in JavaScript (fzstd, ~40–130 ms for a
 * segment against ~5–17 ms with the addon), and the process says so once when it chooses
 * its codec.
 */

// Loaded on first use: a wal-push answered from a marker never compresses nor hashes, and
// every builtin loaded at start-up is paid once per WAL file.
const zlib = () => process.getBuiltinModule('node:zlib');
const gzipAsync = (raw: Buffer, level: number) => new Promise<Buffer>((resolve, reject) => zlib().gzip(raw, { level }, (error, out) => (error ? reject(error) : resolve(out))));
const gunzipAsync = (stored: Buffer) => new Promise<Buffer>((resolve, reject) => zlib().gunzip(stored, (error, out) => (error ? reject(error) : resolve(out))));

/** Options of the codec. */
export interface CodecOptions {
  /** In-process zstd: default nativeZstd(); null: none (gzip for pushes, JavaScript for fetches; tests of that path). */
  native?: NativeZstd | null;
}

/** The in-process zstd these options allow, if any. */
export function nativeFor(options: CodecOptions): NativeZstd | undefined {
  return options.native === undefined ? nativeZstd() : (options.native ?? undefined);
}

/**
 * The codec of a host process, chosen once at its start: `options` with their in-process zstd
 * settled, and, when `compression` asks for zstd and there is none, the fallback said once.
 */
export function chooseCodec<T extends CodecOptions>(compression: WalCompression, options: T): T & { native: NativeZstd | null } {
  const native = nativeFor(options) ?? null;
  if (!native && compression === 'zstd') {
    logLine('warn', 'no in-process zstd on this host: WAL is compressed with gzip, and archived zstd is decoded in JavaScript (slower recovery)', {
      hint: 'run `npm ci` where python3, make and g++ are (it builds the zstd-napi addon), or Node 22.15 or newer',
    });
  }
  return { ...options, native };
}

const allocate = (size: number) => Buffer.allocUnsafe(size);

/** The bytes to store and how they were compressed (gzip when zstd was asked but there is none). */
export interface Encoded {
  stored: Buffer;
  compression: WalCompression;
}

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex');
}

/** Compresses `raw` (in-process zstd writes into a buffer of `take`). Throws StrongboxError WAL_CODEC_FAILED. */
export async function encode(raw: Buffer, compression: WalCompression, options: CodecOptions = {}, take: (size: number) => Buffer = allocate): Promise<Encoded> {
  if (compression === 'none') return { stored: raw, compression };
  const native = compression === 'zstd' ? nativeFor(options) : undefined;
  if (native) return { stored: native.compress(raw, take), compression };
  return { stored: await gzipAsync(raw, 1), compression: 'gzip' };
}

/**
 * Decompresses stored bytes that must make exactly `size` bytes (their record's; in-process
 * zstd writes into a buffer of `take`). Throws StrongboxError WAL_CODEC_FAILED when they do
 * not (damaged).
 */
export async function decode(stored: Buffer, compression: WalCompression, size: number, options: CodecOptions = {}, take: (size: number) => Buffer = allocate): Promise<Buffer> {
  const raw = await decodeAny(stored, compression, size, options, take);
  if (raw.length !== size) throw damaged(`it decompressed to ${raw.length} bytes, not ${size}`, undefined, compression);
  return raw;
}

async function decodeAny(stored: Buffer, compression: WalCompression, size: number, options: CodecOptions, take: (size: number) => Buffer): Promise<Buffer> {
  if (compression === 'none') return stored;
  const native = compression === 'zstd' ? nativeFor(options) : undefined;
  if (native) return native.decompress(stored, size, take);
  try {
    if (compression === 'gzip') return await gunzipAsync(stored);
    // No output buffer given: fzstd fills one whole and returns it as it is, whatever it wrote.
    const out = zstdInJavaScript(stored);
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  } catch (error) {
    throw damaged((error as Error).message, error, compression);
  }
}

/** Fills `buffer` from the start of the open file; false when the file ended first. */
export async function fill(handle: FileHandle, buffer: Buffer): Promise<boolean> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
    if (bytesRead === 0) return false;
    filled += bytesRead;
  }
  return true;
}
