import { open, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { StrongboxError } from '../errors';
import { ZstdMissingError, ZstdRunners } from './zstd-runner';
import type { WalCompression } from '../domain/wal/keys';
import { logLine } from './log';
import { nativeZstd, type NativeZstd } from './native-zstd';

/**
 * Compression of one WAL file (a segment is 16 MiB by default: whole files, no streaming).
 * zstd runs in-process when the zstd-napi addon is there (native-zstd.ts), else through the
 * `zstd` command (Node 20 has no zstd), always on files in the spool — zstd reads and writes
 * them itself, so no segment goes through a pipe into Node — and always started by the shell
 * runners of zstd-runner.ts: one way to run the command. gzip and none work in memory. When
 * zstd is missing, compression falls back to gzip (said once) so archiving never stops for
 * want of a binary.
 */

// Loaded on first use: a wal-push answered from a marker never compresses nor hashes, and
// every builtin loaded at start-up is paid once per WAL file.
const zlib = () => process.getBuiltinModule('node:zlib');
const gzipAsync = (raw: Buffer, level: number) => new Promise<Buffer>((resolve, reject) => zlib().gzip(raw, { level }, (error, out) => (error ? reject(error) : resolve(out))));
const gunzipAsync = (stored: Buffer) => new Promise<Buffer>((resolve, reject) => zlib().gunzip(stored, (error, out) => (error ? reject(error) : resolve(out))));

/** Options of the codec; tests point `zstd` at a binary that does not exist. */
export interface CodecOptions {
  /** The zstd binary for runners made per call; default `zstd` on PATH (ignored when `runners` is given). */
  zstd?: string;
  /** The process's zstd command, made once at start-up (the uploader's, the prefetcher's); else one per call. */
  runners?: ZstdRunners;
  /** In-process zstd: default the addon when it loads; null: always the command (tests of that path). */
  native?: NativeZstd | null;
  /** Where the zstd command reads and writes its files (the spool's tmp folder; default the OS's). */
  scratchDir?: string;
}

/** The folder the zstd command works in for these options. */
export function scratchDirOf(options: CodecOptions): string {
  return options.scratchDir ?? process.getBuiltinModule('node:os').tmpdir();
}

/** The in-process zstd these options allow, if any. */
export function nativeFor(options: CodecOptions): NativeZstd | undefined {
  return options.native === undefined ? nativeZstd() : (options.native ?? undefined);
}

const allocate = (size: number) => Buffer.allocUnsafe(size);

/** The bytes to store and how they were compressed (gzip when zstd was asked but missing). */
export interface Encoded {
  stored: Buffer;
  compression: WalCompression;
}

/** Runs `work` with the options' runners, or with runners made for it and closed after. */
async function withRunners<T>(options: CodecOptions, work: (runners: ZstdRunners) => Promise<T>): Promise<T> {
  const runners = options.runners ?? new ZstdRunners(options.zstd);
  try {
    return await work(runners);
  } finally {
    if (runners !== options.runners) runners.close();
  }
}

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex');
}

function noInProcessZstd(): StrongboxError {
  return new StrongboxError('WAL_CODEC_FAILED', 'in-process zstd (the zstd-napi addon) is not loaded', 'compress and decompress through the zstd command on files (zstdFile, zstdDecodeFile)');
}

/**
 * Compresses `raw` in memory (in-process zstd writes into a buffer of `take`). Throws
 * StrongboxError WAL_CODEC_FAILED for zstd without the addon: the command works on files
 * (zstdFile).
 */
export async function encode(raw: Buffer, compression: WalCompression, options: CodecOptions = {}, take: (size: number) => Buffer = allocate): Promise<Encoded> {
  if (compression === 'none') return { stored: raw, compression };
  if (compression === 'zstd') {
    const native = nativeFor(options);
    if (!native) throw noInProcessZstd();
    return { stored: native.compress(raw, take), compression };
  }
  return { stored: await gzipAsync(raw, 1), compression: 'gzip' };
}

/**
 * zstd -1 of the file at `path`, zstd reading the file itself and writing a temporary file
 * in `scratchDir` (the spool), read back into a buffer of `take`: no 16 MiB pipe through
 * Node, whose reads and copies cost more CPU than the compression. The caller checks that
 * the file did not change meanwhile (its identity before and after). Resolves undefined
 * when the zstd command is missing (said once per runners on stderr; the caller falls back
 * to gzip). Throws StrongboxError WAL_CODEC_FAILED when zstd exists but fails, the fs error
 * when the output cannot be read back.
 */
export async function zstdFile(path: string, scratchDir: string, take: (size: number) => Buffer, options: CodecOptions = {}): Promise<Buffer | undefined> {
  return withRunners(options, async (runners) => {
    const out = join(scratchDir, `${basename(path)}.${process.pid}.${runners.nextSerial()}.zst.tmp`);
    try {
      await runners.compress(path, out);
      return await readWhole(out, take);
    } catch (error) {
      if (!(error instanceof ZstdMissingError)) throw error;
      if (runners.firstMissing()) logLine('warn', 'the zstd command is not installed: compressing WAL with gzip instead', { hint: 'install zstd (apt-get install zstd) for faster, smaller archives' });
      return undefined;
    } finally {
      await unlink(out).catch(() => undefined);
    }
  });
}

/**
 * Decompresses `stored` into the file `out` with zstd working on files: the stored bytes are
 * written to a temporary file in `scratchDir` (registered in `temps` while it exists), and
 * zstd -d writes `out` itself, so that 16 MiB never come back through a pipe into Node. The
 * caller verifies `out`. Throws StrongboxError WAL_CODEC_FAILED when the bytes do not
 * decompress or zstd is missing, the fs error when the scratch file cannot be written.
 */
export async function zstdDecodeFile(stored: Buffer, out: string, scratchDir: string, temps: Set<string>, options: CodecOptions = {}): Promise<void> {
  await withRunners(options, async (runners) => {
    const input = join(scratchDir, `${basename(out)}.${process.pid}.${runners.nextSerial()}.zst.tmp`);
    temps.add(input);
    try {
      await writeFile(input, stored, { mode: 0o600 });
      await runners.decompress(input, out, `${input}.err.tmp`);
    } catch (error) {
      if (!(error instanceof ZstdMissingError)) throw error;
      throw new StrongboxError('WAL_CODEC_FAILED', 'the zstd command is not installed: cannot decompress an archived WAL file', 'install zstd (apt-get install zstd) on this host', { cause: error });
    } finally {
      await unlink(input).catch(() => undefined);
      temps.delete(input);
    }
  });
}

/**
 * Decompresses stored bytes in memory (in-process zstd: into a buffer of `take`, and `size`,
 * when given, must be what the frame says). Throws StrongboxError WAL_CODEC_FAILED when they
 * do not decompress (damaged), and for zstd without the addon (the command works on files:
 * zstdDecodeFile).
 */
export async function decode(stored: Buffer, compression: WalCompression, options: CodecOptions = {}, size?: number, take: (size: number) => Buffer = allocate): Promise<Buffer> {
  if (compression === 'none') return stored;
  if (compression === 'zstd') {
    const native = nativeFor(options);
    if (!native) throw noInProcessZstd();
    return native.decompress(stored, size, take);
  }
  try {
    return await gunzipAsync(stored);
  } catch (error) {
    throw new StrongboxError('WAL_CODEC_FAILED', `gzip data does not decompress: ${(error as Error).message}`, 'the stored copy or the download is damaged; retry, then check the archive', { cause: error });
  }
}

/** The whole file at `path` in a buffer of `take`. Throws the fs error, or WAL_CODEC_FAILED when it shrank while read. */
export async function readWhole(path: string, take: (size: number) => Buffer): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = take((await handle.stat()).size);
    if (!(await fill(handle, buffer))) throw new StrongboxError('WAL_CODEC_FAILED', `${path} ended before ${buffer.length} bytes`, 'something else writes into the spool: give each database its own spool');
    return buffer;
  } finally {
    await handle.close();
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
