/**
 * Fetches a backup's dump once into a private temporary file, hashing it on the way, and
 * refuses it unless size and SHA-256 match the manifest: nothing on the target server is
 * touched before that. A zstd dump is decompressed only once its compressed bytes proved good.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream } from '../../domain/hashing-stream';
import type { Storage } from '../../ports/storage';
import type { Manifest } from '../../domain/manifest';
import { ChecksumMismatchError, StrongboxError } from '../../errors';
import type { RestoreTools } from '../../ports/restore';

/** A private folder (mode 0700) for one restore's files. */
export interface TempFolder {
  path: string;
  /** Removes the folder and everything in it; never throws. */
  remove(): Promise<void>;
}

/** Creates `strongbox-restore-*` under `base` (mode 0700, so the dump is readable by this user only). */
export async function makeTempFolder(base: string): Promise<TempFolder> {
  const path = await mkdtemp(join(base, 'strongbox-restore-')).catch((error: unknown) => {
    throw localFileError(`cannot create a temporary folder under ${base}`, error);
  });
  return { path, remove: () => rm(path, { recursive: true, force: true }).catch(() => undefined) };
}

/** Options of downloadDump. */
export interface DownloadOptions {
  storage: Storage;
  tools: Pick<RestoreTools, 'decompress'>;
  manifest: Manifest;
  /** The object to download, when not the manifest's dump: one part of a parallel backup. */
  object?: Manifest['objects']['dump'];
  folder: string;
  signal?: AbortSignal;
  /** Bytes read so far, of `total`. */
  onBytes?: (bytes: number, total: number) => void;
  /** Called when decompression starts (zstd dumps). */
  onDecompress?: () => void;
}

/**
 * Downloads the manifest's dump (or `object`) into `folder` (file mode 0600) and returns the path of a
 * pg_restore-readable archive.
 *
 * @throws ChecksumMismatchError when size or SHA-256 differ from the manifest; ObjectNotFoundError
 *   or StorageError from storage; DumpError when zstd fails; a StrongboxError RESTORE_FAILED when
 *   the local file cannot be written (disk full).
 */
export async function downloadDump(options: DownloadOptions): Promise<string> {
  return download(options, true);
}

async function download(options: DownloadOptions, tryLink: boolean): Promise<string> {
  const declared = { ...(options.object ?? options.manifest.objects.dump), backupId: options.manifest.id };
  const zstd = options.manifest.compression === 'zstd';
  const file = join(options.folder, zstd ? 'dump.zst' : 'dump');
  await downloadVerified(options.storage, declared, file, options.signal, options.onBytes, tryLink);
  if (!zstd) return file;
  options.onDecompress?.();
  const plain = join(options.folder, 'dump');
  await options.tools.decompress(file, plain, options.signal);
  // Half the disk is enough for what follows.
  await rm(file, { force: true });
  return plain;
}

/** A dump ready for pg_restore, and the check that its bytes are the manifest's. */
export interface FetchedDump {
  file: string;
  /** Settles once size and SHA-256 were compared: rejects with ChecksumMismatchError (or a read error). */
  verified: Promise<void>;
}

/**
 * downloadDump, except that a plain (`pg_dump -Fc`) dump in the repository folder is only
 * hard-linked, and its SHA-256 checked while the caller goes on: `verified` says when. The
 * caller may then restore it into a scratch database at once, and must await `verified`
 * before touching anything that is not its own scratch. Any other dump is downloaded and
 * checked first, as downloadDump does (`verified` is then already settled).
 */
export async function fetchDump(options: DownloadOptions & { early: boolean }): Promise<FetchedDump> {
  const declared = { ...(options.object ?? options.manifest.objects.dump), backupId: options.manifest.id };
  if (options.early && options.manifest.compression !== 'zstd' && hasLocalLinks(options.storage)) {
    const file = join(options.folder, 'dump');
    if (await options.storage.linkTo(declared.key, file)) {
      // No byte progress: the download phase is over at once, and the check runs beside the restore.
      const verified = checkLinked(declared, file, options.signal);
      verified.catch(() => undefined); // the caller awaits it; until then a rejection is not unhandled
      return { file, verified };
    }
    return { file: await download(options, false), verified: Promise.resolve() };
  }
  return { file: await downloadDump(options), verified: Promise.resolve() };
}

/**
 * Downloads the manifest's globals (pg_dumpall --globals-only) into `folder` and returns the
 * path of the SQL file, once its size and SHA-256 match the manifest.
 *
 * @throws ManifestError when the backup has no globals; otherwise as downloadDump.
 */
export async function downloadGlobals(storage: Storage, manifest: Manifest, folder: string, signal?: AbortSignal): Promise<string> {
  const globals = manifest.objects.globals;
  if (!globals) throw new StrongboxError('MANIFEST_INVALID', `the manifest of backup ${manifest.id} lists no globals`, 'restore without --globals');
  const file = join(folder, 'globals.sql');
  await downloadVerified(storage, { ...globals, backupId: manifest.id }, file, signal);
  return file;
}

/** An object the manifest declares, and the backup it belongs to (named in a mismatch). */
type Declared = { key: string; bytes: number; sha256: string; backupId?: string };

/** Reads of a linked dump for its hash: large enough that SHA-256, not the read calls, sets the pace. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** A storage whose objects are local files (the repository folder): they can be hard-linked instead of copied. */
export interface LocalLinks {
  /** Links the object's file at `destination`; false when only a copy can do. */
  linkTo(key: string, destination: string): Promise<boolean>;
}

/** True when `storage` keeps its objects as local files that can be hard-linked. */
export function hasLocalLinks(storage: object): storage is LocalLinks {
  return typeof (storage as Partial<LocalLinks>).linkTo === 'function';
}

/**
 * Brings one stored object into `file` (never overwriting) and checks its size and SHA-256:
 * from the repository folder a hard link read back for the hash (no copy of the dump), from
 * elsewhere a stream into a new file (mode 0600) hashed on the way.
 */
async function downloadVerified(
  storage: Storage,
  declared: Declared,
  file: string,
  signal: AbortSignal | undefined,
  onBytes?: (bytes: number, total: number) => void,
  tryLink = true,
): Promise<void> {
  if (tryLink && hasLocalLinks(storage) && (await storage.linkTo(declared.key, file))) return checkLinked(declared, file, signal, onBytes);
  await hashThrough(await storage.get(declared.key), createWriteStream(file, { mode: 0o600, flags: 'wx' }), declared, file, signal, onBytes);
}

/** Reads a linked file back through SHA-256 and compares it with the manifest. */
function checkLinked(declared: Declared, file: string, signal: AbortSignal | undefined, onBytes?: (bytes: number, total: number) => void): Promise<void> {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  return hashThrough(createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }), discard, declared, file, signal, onBytes);
}

async function hashThrough(
  source: Readable,
  sink: Writable,
  declared: Declared,
  file: string,
  signal: AbortSignal | undefined,
  onBytes?: (bytes: number, total: number) => void,
): Promise<void> {
  const hasher = new HashingStream();
  if (onBytes) {
    let bytes = 0;
    hasher.on('data', (chunk: Buffer) => onBytes((bytes += chunk.length), declared.bytes));
  }
  try {
    await pipeline(source, hasher, sink, ...(signal ? [{ signal }] : []));
  } catch (error) {
    if (error instanceof StrongboxError) throw error;
    if (signal?.aborted && signal.reason instanceof StrongboxError) throw signal.reason;
    // The sink's errors are local (no space, permissions); the source's arrive as StrongboxErrors.
    throw localFileError(`cannot write ${declared.key} to ${file}`, error);
  }
  const actual = hasher.digest();
  if (actual.sha256 !== declared.sha256 || actual.bytes !== declared.bytes) {
    throw new ChecksumMismatchError(declared.key, `${declared.sha256} (${declared.bytes} bytes)`, `${actual.sha256} (${actual.bytes} bytes)`, declared.backupId);
  }
}

function localFileError(message: string, error: unknown): StrongboxError {
  const detail = error instanceof Error ? error.message : String(error);
  return new StrongboxError('RESTORE_FAILED', `${message}: ${detail}`, 'free space in the temporary folder (TMPDIR) or point TMPDIR at a larger disk', { cause: error });
}
