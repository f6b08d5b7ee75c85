/**
 * A dump read from storage straight into pg_restore, with no local copy: the bytes are
 * hashed on their way, and the last chunk is held back until size and SHA-256 match the
 * manifest. pg_restore (one transaction) never sees the end of a damaged dump: the stream
 * errors instead, the tools are killed, and the transaction rolls back.
 */
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createHash } from 'node:crypto';
import type { Storage } from '../../ports/storage';
import type { PgConnection } from '../../ports/postgres';
import type { Manifest } from '../../domain/manifest';
import { ChecksumMismatchError } from '../../errors';
import type { RestoreTools } from '../../ports/restore';
import { hasLocalLinks } from './download';

/** An object the manifest declares, and the backup it belongs to (named in a mismatch). */
export interface DeclaredObject {
  key: string;
  bytes: number;
  sha256: string;
  backupId?: string;
}

/**
 * Passes its input on, hashing it, one chunk behind: the last chunk goes out only once the
 * whole input matched `declared` (size and SHA-256); otherwise the stream errors with
 * ChecksumMismatchError and the reader never gets an end of input.
 */
export class VerifyingGate extends Transform {
  readonly #hash = createHash('sha256');
  #bytes = 0;
  #held: Buffer | undefined;
  /** Set when the input turned out not to be what the manifest declares. */
  mismatch: ChecksumMismatchError | undefined;

  constructor(
    private readonly declared: DeclaredObject,
    private readonly onBytes?: (bytes: number, total: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    this.onBytes?.(this.#bytes, this.declared.bytes);
    const previous = this.#held;
    this.#held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.#hash.digest('hex');
    const { declared } = this;
    if (sha256 !== declared.sha256 || this.#bytes !== declared.bytes) {
      this.mismatch = new ChecksumMismatchError(declared.key, `${declared.sha256} (${declared.bytes} bytes)`, `${sha256} (${this.#bytes} bytes)`, declared.backupId);
      callback(this.mismatch);
      return;
    }
    callback(null, this.#held);
  }
}

/** Options of restoreStreamed. */
export interface StreamRestoreOptions {
  storage: Storage;
  tools: Required<Pick<RestoreTools, 'restoreStream'>>;
  manifest: Manifest;
  /** The database to restore into (created and empty). */
  into: PgConnection;
  signal?: AbortSignal;
  onBytes?: (bytes: number, total: number) => void;
  /** Wraps the storage read (cold storage); default: as it is. */
  reading?: <T>(read: () => Promise<T>) => Promise<T>;
}

/**
 * Streams the manifest's dump from storage into pg_restore (`--single-transaction`, one job)
 * and resolves once pg_restore committed and the bytes matched the manifest.
 *
 * @throws ChecksumMismatchError when size or SHA-256 differ (pg_restore was stopped before the
 *   end of input: its transaction rolled back); ObjectNotFoundError / StorageError from the
 *   read; DumpError from pg_restore or zstd; DatabaseConnectionError.
 */
export async function restoreStreamed(options: StreamRestoreOptions): Promise<void> {
  const { manifest } = options;
  return restoreObjectStreamed(options, { ...manifest.objects.dump, backupId: manifest.id });
}

/**
 * Streams one declared object of the manifest's backup (its dump, or one part of a parallel
 * backup) into pg_restore, as restoreStreamed does.
 *
 * @throws as restoreStreamed, the mismatch naming `declared.key`.
 */
export async function restoreObjectStreamed(options: StreamRestoreOptions, declared: DeclaredObject): Promise<void> {
  const { manifest } = options;
  const reading = options.reading ?? ((read) => read());
  const body: Readable = await reading(() => options.storage.get(declared.key));
  const gate = new VerifyingGate(declared, options.onBytes);
  const verified = new Promise<void>((resolve, reject) => {
    gate.once('finish', resolve);
    gate.once('error', reject);
  });
  verified.catch(() => undefined); // awaited below; the tools see the same error first
  // pipeline destroys the read from storage when the gate fails, and the gate when the read fails.
  pipeline(body, gate, () => undefined);
  try {
    await options.tools.restoreStream(options.into, gate, {
      compression: manifest.compression === 'zstd' ? 'zstd' : 'gzip',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    // A mismatch explains whatever it made the tools do. A tool that failed before the end
    // leaves the hash unknown: its own error is the reason (the read stops here).
    const mismatch = gate.mismatch;
    body.destroy();
    gate.destroy();
    throw mismatch ?? error;
  }
  // pg_restore ends after reading the end of input, which the gate sends only after the
  // check. Should it have ended without the last bytes, the rest is read here for the check.
  if (!gate.writableFinished) gate.resume();
  await verified;
}

/**
 * True when a restore with `jobs` streams the dump from `storage` into pg_restore (one
 * transaction, no local file): one job, a remote storage (the repository folder links its
 * files instead), and tools that can (unknown tools, as in a dry run, are assumed to).
 */
export function streamsDump(storage: Storage | undefined, tools: RestoreTools | undefined, jobs: number): boolean {
  return jobs <= 1 && storage !== undefined && !hasLocalLinks(storage) && (tools === undefined || tools.restoreStream !== undefined);
}
