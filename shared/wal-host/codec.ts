import { open, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { StrongboxError } from '../errors';
import type { ZstdRunners } from './zstd-runner';
import type { WalCompression } from '../domain/wal/keys';
import { logLine } from './log';
import { nativeZstd, type NativeZstd } from './native-zstd';

/**
 * Compression of one WAL file (a segment is 16 MiB by default: whole files, no streaming).
 * zstd runs in-process when the zstd-napi addon is there (native-zstd.ts), else the `zstd`
 * command-line tool (Node 20 has no zstd), on files in the spool when
 * the caller gives one (zstdFile, zstdDecodeFile: no segment through a pipe into Node),
 * else through its stdin and stdout; gzip and none work in memory. When zstd is missing,
 * compression falls back to gzip (said once on stderr) so archiving never stops for want
 * of a binary.
 */

// Loaded on first use: a wal-push answered from a marker never compresses nor hashes, and
// every builtin loaded at start-up is paid once per WAL file.
const zlib = () => process.getBuiltinModule('node:zlib');
const gzipAsync = (raw: Buffer, level: number) => new Promise<Buffer>((resolve, reject) => zlib().gzip(raw, { level }, (error, out) => (error ? reject(error) : resolve(out))));
const gunzipAsync = (stored: Buffer) => new Promise<Buffer>((resolve, reject) => zlib().gunzip(stored, (error, out) => (error ? reject(error) : resolve(out))));

/**
 * The zstd command as one process knows it, made once at start-up and passed along: what it
 * learns — that this zstd refuses `--no-asyncio` (older than 1.5.3), that it is missing (said
 * once) — lives here, never in module state. Without one, each call learns afresh.
 */
export class ZstdCommand {
  /** Whether to pass `--no-asyncio` (until this zstd refused it once). */
  noAsyncio = true;
  /** The "zstd is missing: gzip instead" warning was given. */
  warnedMissing = false;
  /** Serial of the scratch files this process names. */
  serial = 0;

  constructor(readonly binary = 'zstd') {}
}

/** Options of the codec; tests point `zstd` at a binary that does not exist. */
export interface CodecOptions {
  /** The zstd binary; default `zstd` on PATH (ignored when `command` is given). */
  zstd?: string;
  /** The process's zstd command and what it learnt (default: a fresh one per call). */
  command?: ZstdCommand;
  /** Shell runners that start zstd (the uploader's and the prefetcher's: cheaper than forking Node per file). */
  runners?: ZstdRunners;
  /** In-process zstd: default the addon when it loads; null: always the command (tests of that path). */
  native?: NativeZstd | null;
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

/** The command these options name. */
function commandOf(options: CodecOptions): ZstdCommand {
  return options.command ?? new ZstdCommand(options.zstd);
}

function warnMissingZstd(command: ZstdCommand): void {
  if (command.warnedMissing) return;
  command.warnedMissing = true;
  logLine('warn', 'the zstd command is not installed: compressing WAL with gzip instead', { hint: 'install zstd (apt-get install zstd) for faster, smaller archives' });
}

/** The spawn of a zstd that is not there (not a file zstd itself could not find: that one has a path). */
function isMissingZstd(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT' && (error as NodeJS.ErrnoException).syscall?.startsWith('spawn') === true;
}

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex');
}

/**
 * Compresses `raw` (in-process zstd writes into a buffer of `take`). Throws StrongboxError
 * WAL_CODEC_FAILED when zstd exists but fails.
 */
export async function encode(raw: Buffer, compression: WalCompression, options: CodecOptions = {}, take: (size: number) => Buffer = allocate): Promise<Encoded> {
  if (compression === 'none') return { stored: raw, compression };
  if (compression === 'zstd') {
    const native = nativeFor(options);
    if (native) return { stored: native.compress(raw, take), compression };
    const command = commandOf(options);
    try {
      return { stored: await runZstd(['-1', '-q', '-c'], raw, command), compression };
    } catch (error) {
      if (!isMissingZstd(error)) throw error;
      warnMissingZstd(command);
    }
  }
  return { stored: await gzipAsync(raw, 1), compression: 'gzip' };
}

/**
 * zstd -1 of the file at `path`, zstd reading the file itself and writing a temporary file
 * in `scratchDir` (the spool), read back into a buffer of `take`: no 16 MiB pipe through
 * Node, whose reads and copies cost more CPU than the compression. The caller checks that
 * the file did not change meanwhile (its identity before and after). Resolves undefined
 * when the zstd command is missing (said once on stderr; the caller falls back to gzip).
 * Throws StrongboxError WAL_CODEC_FAILED when zstd exists but fails, the fs error when the
 * output cannot be read back.
 */
export async function zstdFile(path: string, scratchDir: string, take: (size: number) => Buffer, options: CodecOptions = {}): Promise<Buffer | undefined> {
  const command = commandOf(options);
  const out = join(scratchDir, `${basename(path)}.${process.pid}.${++command.serial}.zst.tmp`);
  try {
    if (options.runners) await options.runners.compress(path, out);
    else await runZstd(['-1', '-q', '-f', '--single-thread', '-o', out, '--', path], undefined, command);
    return await readWhole(out, take);
  } catch (error) {
    if (!isMissingZstd(error)) throw error;
    warnMissingZstd(command);
    return undefined;
  } finally {
    await unlink(out).catch(() => undefined);
  }
}

/**
 * Decompresses `stored` into the file `out` with zstd working on files: the stored bytes are
 * written to a temporary file in `scratchDir` (registered in `temps` while it exists), and
 * zstd -d writes `out` itself, so that 16 MiB never come back through a pipe into Node. The
 * caller verifies `out`. Throws StrongboxError WAL_CODEC_FAILED when the bytes do not
 * decompress or zstd is missing, the fs error when the scratch file cannot be written.
 */
export async function zstdDecodeFile(stored: Buffer, out: string, scratchDir: string, temps: Set<string>, options: CodecOptions = {}): Promise<void> {
  const command = commandOf(options);
  const input = join(scratchDir, `${basename(out)}.${process.pid}.${++command.serial}.zst.tmp`);
  temps.add(input);
  try {
    await writeFile(input, stored, { mode: 0o600 });
    if (options.runners) await options.runners.decompress(input, out, `${input}.err.tmp`);
    else await runZstd(['-d', '-q', '-f', '-o', out, '--', input], undefined, command);
  } catch (error) {
    if (isMissingZstd(error)) throw missingForDecode(error);
    throw error;
  } finally {
    await unlink(input).catch(() => undefined);
    temps.delete(input);
  }
}

function missingForDecode(cause: unknown): StrongboxError {
  return new StrongboxError('WAL_CODEC_FAILED', 'the zstd command is not installed: cannot decompress an archived WAL file', 'install zstd (apt-get install zstd) on this host', { cause });
}

/**
 * Decompresses stored bytes (in-process zstd: into a buffer of `take`, and `size`, when
 * given, must be what the frame says). Throws StrongboxError WAL_CODEC_FAILED when they do
 * not decompress (damaged) or the zstd tool is missing.
 */
export async function decode(stored: Buffer, compression: WalCompression, options: CodecOptions = {}, size?: number, take: (size: number) => Buffer = allocate): Promise<Buffer> {
  if (compression === 'none') return stored;
  if (compression === 'zstd') {
    const raw = nativeFor(options)?.decompress(stored, size, take);
    if (raw) return raw;
    try {
      return await runZstd(['-d', '-q', '-c'], stored, commandOf(options));
    } catch (error) {
      if (isMissingZstd(error)) throw missingForDecode(error);
      throw error;
    }
  }
  try {
    return await gunzipAsync(stored);
  } catch (error) {
    throw new StrongboxError('WAL_CODEC_FAILED', `gzip data does not decompress: ${(error as Error).message}`, 'the stored copy or the download is damaged; retry, then check the archive', { cause: error });
  }
}

/**
 * Runs zstd; with `input`, fed on stdin and its stdout collected, else both ignored (it works
 * on files). `--no-asyncio` is passed while this zstd takes it (1.5.3+, where reading and
 * writing on a second thread is the default and costs a busy host more CPU than it saves:
 * 52 → 41 ms to compress a segment here, 35 → 22 ms to decompress); the first refusal is
 * remembered by `command`.
 */
async function runZstd(args: string[], input: Buffer | undefined, command: ZstdCommand): Promise<Buffer> {
  if (!command.noAsyncio) return runZstdOnce(args, input, command.binary);
  try {
    return await runZstdOnce(['--no-asyncio', ...args], input, command.binary);
  } catch (error) {
    if (!(error instanceof StrongboxError) || !/Incorrect param/i.test(error.message)) throw error;
    command.noAsyncio = false;
    return runZstdOnce(args, input, command.binary);
  }
}

function runZstdOnce(args: string[], input: Buffer | undefined, binary: string): Promise<Buffer> {
  const what = args.includes('-d') ? '-d' : '-1';
  return new Promise((resolve, reject) => {
    const child = process.getBuiltinModule('node:child_process').spawn(binary, args, { stdio: [input ? 'pipe' : 'ignore', input ? 'pipe' : 'ignore', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // ENOENT arrives here; the caller tells it apart by its code.
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out));
      reject(new StrongboxError('WAL_CODEC_FAILED', `zstd ${what} failed (${signal ?? `exit ${code}`}): ${err.trim().slice(0, 200)}`, 'the stored copy or the download is damaged, or zstd is broken; retry, then check the archive'));
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
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
