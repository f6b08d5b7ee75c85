/**
 * The restore of a `streams` backup (docs/restore.md "Parallel backups"): its parts in order
 * — pre-data, every data part at once, post-data — each streamed from storage into its own
 * `pg_restore --single-transaction` through the SHA-256 gate (stream.ts): no local file, and a
 * part whose bytes differ from the manifest never reaches its end in pg_restore. The first
 * failure stops the other parts; the caller drops the scratch database, so nothing that looks
 * restored is left.
 */
import type { Manifest } from '../../domain/manifest';
import { dataParts, hasParts, postDataPart, type DumpPart } from '../../domain/manifest-parts';
import { restoreObjectStreamed, type StreamRestoreOptions } from './stream';

/** The parts a restore reads after the pre-data one: the data parts and post-data (not the schema part). */
function restoredParts(manifest: Manifest): DumpPart[] {
  return (manifest.objects.parts ?? []).filter((part) => part.section !== 'schema');
}

/** Bytes of every object a parts restore reads (pre-data, data parts, post-data). */
export function partsBytes(manifest: Manifest): number {
  return manifest.objects.dump.bytes + restoredParts(manifest).reduce((sum, part) => sum + part.bytes, 0);
}

/** How a restore reads a backup, for its log: the path, the bytes, and the parts of a parallel backup. */
export function howRead(manifest: Manifest, streamed: boolean): { path: 'parts' | 'stream' | 'download'; bytes: number; parts?: number } {
  if (hasParts(manifest)) return { path: 'parts', bytes: partsBytes(manifest), parts: 1 + restoredParts(manifest).length };
  return { path: streamed ? 'stream' : 'download', bytes: manifest.objects.dump.bytes };
}

/**
 * Restores every part of `options.manifest` into `options.into` (created and empty).
 *
 * @throws ChecksumMismatchError naming the part whose bytes differ; ObjectNotFoundError /
 *   StorageError; DumpError from pg_restore; DatabaseConnectionError; the signal's reason.
 */
export async function restoreParts(options: StreamRestoreOptions): Promise<void> {
  const { manifest } = options;
  const total = partsBytes(manifest);
  let done = 0;
  const progress = (): ((bytes: number) => void) => {
    let mine = 0;
    return (bytes) => {
      done += bytes - mine;
      mine = bytes;
      options.onBytes?.(done, total);
    };
  };
  const one = (part: Pick<DumpPart, 'key' | 'bytes' | 'sha256'>, signal: AbortSignal | undefined): Promise<void> =>
    restoreObjectStreamed({ ...options, ...(signal ? { signal } : {}), onBytes: progress() }, { key: part.key, bytes: part.bytes, sha256: part.sha256, backupId: manifest.id });

  await one(manifest.objects.dump, options.signal);
  // The data parts at once: the first failure kills the others (their transactions roll back).
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const results = await Promise.allSettled(
    dataParts(manifest).map((part) =>
      one(part, signal).catch((error: unknown) => {
        if (!stop.signal.aborted) stop.abort(error);
        throw error;
      }),
    ),
  );
  if (stop.signal.aborted) throw stop.signal.reason;
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  const post = postDataPart(manifest);
  if (post) await one(post, options.signal);
}
