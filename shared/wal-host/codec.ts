import { StrongboxError } from '../errors';
import type { WalCompression } from '../domain/wal/keys';
import { logLine } from './log';

/**
 * Compression of one WAL file in memory (a segment is 16 MiB by default: simplicity beats
 * streaming here). zstd runs the `zstd` command-line tool (Node 20 has no zstd); when it is
 * missing, compression falls back to gzip (said once on stderr) so archiving never stops
 * for want of a binary.
 */

// Loaded on first use: a wal-push answered from a marker never compresses nor hashes, and
// every builtin loaded at start-up is paid once per WAL file.
const zlib = () => process.getBuiltinModule('node:zlib');
const gzipAsync = (raw: Buffer, level: number) => new Promise<Buffer>((resolve, reject) => zlib().gzip(raw, { level }, (error, out) => (error ? reject(error) : resolve(out))));
const gunzipAsync = (stored: Buffer) => new Promise<Buffer>((resolve, reject) => zlib().gunzip(stored, (error, out) => (error ? reject(error) : resolve(out))));

/** Options of the codec; tests point `zstd` at a binary that does not exist. */
export interface CodecOptions {
  /** The zstd binary; default `zstd` on PATH. */
  zstd?: string;
}

/** The bytes to store and how they were compressed (gzip when zstd was asked but missing). */
export interface Encoded {
  stored: Buffer;
  compression: WalCompression;
}

let warnedMissingZstd = false;

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex');
}

/** Compresses `raw`. Throws StrongboxError WAL_CODEC_FAILED when zstd exists but fails. */
export async function encode(raw: Buffer, compression: WalCompression, options: CodecOptions = {}): Promise<Encoded> {
  if (compression === 'none') return { stored: raw, compression };
  if (compression === 'zstd') {
    try {
      return { stored: await runZstd(['-1', '-q', '-c'], raw, options), compression };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (!warnedMissingZstd) {
        warnedMissingZstd = true;
        logLine('warn', 'the zstd command is not installed: compressing WAL with gzip instead', { hint: 'install zstd (apt-get install zstd) for faster, smaller archives' });
      }
    }
  }
  return { stored: await gzipAsync(raw, 1), compression: 'gzip' };
}

/**
 * Decompresses stored bytes. Throws StrongboxError WAL_CODEC_FAILED when they do not
 * decompress (damaged) or the zstd tool is missing.
 */
export async function decode(stored: Buffer, compression: WalCompression, options: CodecOptions = {}): Promise<Buffer> {
  if (compression === 'none') return stored;
  if (compression === 'zstd') {
    try {
      return await runZstd(['-d', '-q', '-c'], stored, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StrongboxError('WAL_CODEC_FAILED', 'the zstd command is not installed: cannot decompress an archived WAL file', 'install zstd (apt-get install zstd) on this host', { cause: error });
      }
      throw error;
    }
  }
  try {
    return await gunzipAsync(stored);
  } catch (error) {
    throw new StrongboxError('WAL_CODEC_FAILED', `gzip data does not decompress: ${(error as Error).message}`, 'the stored copy or the download is damaged; retry, then check the archive', { cause: error });
  }
}

function runZstd(args: string[], input: Buffer, options: CodecOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = process.getBuiltinModule('node:child_process').spawn(options.zstd ?? 'zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // ENOENT arrives here; the caller tells it apart by its code.
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out));
      reject(new StrongboxError('WAL_CODEC_FAILED', `zstd ${args[0]} failed (${signal ?? `exit ${code}`}): ${err.trim().slice(0, 200)}`, 'the stored copy or the download is damaged, or zstd is broken; retry, then check the archive'));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
