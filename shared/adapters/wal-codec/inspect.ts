import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Duplex, PassThrough, Readable, Transform, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { WalCompression } from '../../domain/wal/keys';
import { SEGMENT_HEADER_SIZE } from '../../domain/wal/header';
import { StrongboxError, WalContentInvalidError } from '../../errors';
import type { WalCodec, WalContent } from '../../ports/wal-codec';
import { walBuffers } from '../../domain/buffer-pool';

/** How much of the decoded file is kept for the header checks (XLogLongPageHeaderData is 40 bytes). */
export const HEAD_BYTES = SEGMENT_HEADER_SIZE;

/**
 * Reads `stored` (the object as stored) once: hashes it, decodes it as `compression` says
 * and hashes the result, keeping its first bytes. Decoding stops as soon as it passes
 * `maxSize` bytes (a decompression bomb costs at most `maxSize` of work, never memory:
 * the decoded bytes are hashed and dropped). zstd is decoded by Node's own zlib when it
 * has it (Node ≥ 22.15, the Lambda runtime), else the zstd-napi addon, else the `zstd` command.
 *
 * Bytes already in memory (a bytes-mode push) are decoded in one call where it can:
 * inspectWhole.
 *
 * @throws WalContentInvalidError when the bytes do not decode or decode to more than
 *   `maxSize`; what `stored` throws (StorageError, ObjectNotFoundError) as it is.
 */
export async function inspectWalContent(stored: Readable | Buffer, compression: WalCompression, maxSize: number): Promise<WalContent> {
  if (Buffer.isBuffer(stored)) return (await inspectWhole(stored, compression, maxSize)) ?? inspectWalContent(Readable.from([stored]), compression, maxSize);
  const storedHash = createHash('sha256');
  let storedBytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      storedHash.update(chunk);
      storedBytes += chunk.length;
      done(null, chunk);
    },
  });
  const hash = createHash('sha256');
  let size = 0;
  const head = Buffer.alloc(HEAD_BYTES);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (size < HEAD_BYTES) chunk.copy(head, size, 0, Math.min(chunk.length, HEAD_BYTES - size));
      size += chunk.length;
      if (size > maxSize) return done(new WalContentInvalidError(`it decodes to more than the declared ${maxSize} bytes`));
      hash.update(chunk);
      done();
    },
  });
  const decoder = decoderFor(compression);
  try {
    await pipeline(stored, tap, decoder, sink);
  } catch (error) {
    if (error instanceof WalContentInvalidError) throw error;
    // What the source threw is the storage's problem, and a decoder that cannot run the server's: not the content's.
    if (error instanceof StrongboxError) throw error;
    throw new WalContentInvalidError(`it is not ${compression} data (${(error as Error).message})`, { cause: error });
  }
  return { storedBytes, storedSha256: storedHash.digest('hex'), size, sha256: hash.digest('hex'), head: head.subarray(0, Math.min(size, HEAD_BYTES)) };
}

const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const gunzip = promisify<Buffer, zlib.ZlibOptions, Buffer>(zlib.gunzip);

/**
 * A stored object in memory, decoded in one call instead of a stream of 64 KiB chunks (on
 * the local endpoint the stream's decoding, chunk copies and their garbage cost ~25 ms of
 * its one thread per 16 MiB segment; docs/benchmarks.md): gzip on libuv's threads, bounded
 * by `maxSize`; zstd by the addon into a pooled buffer, when the object is one frame that
 * says its size, at most `maxSize`. Undefined where it cannot, or when the addon refuses
 * the bytes: the stream then decides, with its own errors.
 *
 * @throws WalContentInvalidError when gzip bytes do not decode, or decode to more than `maxSize`.
 */
async function inspectWhole(stored: Buffer, compression: WalCompression, maxSize: number): Promise<WalContent | undefined> {
  const content = (decoded: Buffer): WalContent => ({
    storedBytes: stored.length,
    storedSha256: sha256Of(stored),
    size: decoded.length,
    sha256: sha256Of(decoded),
    head: Buffer.from(decoded.subarray(0, HEAD_BYTES)),
  });
  if (compression === 'none') return stored.length > maxSize ? undefined : content(stored);
  if (compression === 'gzip') {
    try {
      return content(await gunzip(stored, { maxOutputLength: maxSize }));
    } catch (error) {
      const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new WalContentInvalidError(tooLarge ? `it decodes to more than the declared ${maxSize} bytes` : `it is not gzip data (${(error as Error).message})`, { cause: error });
    }
  }
  const binding = zstdNapi<ZstdBinding>('binding');
  let size: number | null = null;
  try {
    if (binding && binding.findFrameCompressedSize(stored) === stored.length) size = binding.getFrameContentSize(stored);
  } catch {
    return undefined; // not one zstd frame: the stream says what it is
  }
  if (!binding || size === null || size > maxSize) return undefined;
  const decoded = walBuffers.take(size);
  try {
    dctx ??= new binding.DCtx();
    if (dctx.decompress(decoded, stored) !== size) return undefined;
    return content(decoded.subarray(0, size));
  } catch {
    dctx = undefined; // a context that failed mid-frame is not reused
    return undefined;
  } finally {
    walBuffers.give(decoded);
  }
}

/** The addon's decompression context, kept for the process (a new one per push cost its allocation each time). */
let dctx: InstanceType<ZstdBinding['DCtx']> | undefined;

interface ZstdBinding {
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  getFrameContentSize(frame: Uint8Array): number | null;
  findFrameCompressedSize(frame: Uint8Array): number;
}

const optionalModules = new Map<string, unknown>();

/**
 * A module of the optional zstd-napi package (`''`: the package, `'binding'`: its low-level
 * binding), loaded once; undefined when it is not installed. A computed name keeps bundlers off it.
 */
function zstdNapi<T>(path: '' | 'binding'): T | undefined {
  if (!optionalModules.has(path)) {
    try {
      optionalModules.set(path, createRequire(import.meta.url)(['zstd-napi', path].filter(Boolean).join('/')));
    } catch {
      optionalModules.set(path, undefined);
    }
  }
  return optionalModules.get(path) as T | undefined;
}

function decoderFor(compression: WalCompression): Duplex {
  if (compression === 'none') return new PassThrough();
  if (compression === 'gzip') return zlib.createGunzip();
  const native = (zlib as unknown as { createZstdDecompress?: () => Duplex }).createZstdDecompress;
  if (typeof native === 'function') return native();
  const addon = zstdNapi<ZstdNapi>('');
  if (addon) return new addon.DecompressStream();
  return zstdCommand();
}

interface ZstdNapi {
  DecompressStream: new () => Duplex;
}

/** `zstd -d` as a duplex stream: compressed bytes in, decoded bytes out; a failed exit is an error. */
function zstdCommand(): Duplex {
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 2000) stderr += chunk.toString();
  });
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.once('error', (error) => duplex.destroy(new StrongboxError('WAL_CODEC_FAILED', `the zstd command could not run (${error.message})`, 'install zstd, or the zstd-napi addon (npm ci)', { cause: error })));
  child.once('close', (code) => {
    if (code !== 0 && code !== null) duplex.destroy(new Error(`zstd -d exited with ${code}: ${stderr.trim().slice(0, 200)}`));
  });
  duplex.once('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return duplex;
}

/**
 * The first `want` decoded bytes of a stored object from its first bytes only (WalCodec.decodeHead):
 * the prefix is fed to the decoder, which is dropped as soon as they are out.
 */
export function decodeHead(prefix: Buffer, compression: WalCompression, want: number): Promise<Buffer | undefined> {
  if (compression === 'none') return Promise.resolve(prefix.length >= want ? Buffer.from(prefix.subarray(0, want)) : undefined);
  return new Promise((resolve) => {
    const decoder = decoderFor(compression);
    const head = Buffer.alloc(want);
    let filled = 0;
    let settled = false;
    const settle = (value: Buffer | undefined): void => {
      if (settled) return;
      settled = true;
      decoder.off('data', onData);
      // The rest of the prefix is not needed: what the decoder says about a cut stream now is expected.
      decoder.on('error', () => undefined);
      decoder.destroy();
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      filled += chunk.copy(head, filled, 0, Math.min(chunk.length, want - filled));
      if (filled === want) settle(head);
    };
    decoder.on('data', onData);
    decoder.once('error', () => settle(undefined));
    decoder.once('end', () => settle(undefined));
    decoder.end(prefix);
  });
}

/** The codec of the archive endpoint: decodes with Node's zlib, the zstd-napi addon or the zstd command. */
export const walCodec: WalCodec = { inspect: inspectWalContent, decodeHead };
