/**
 * The restore of a `streams` backup (docs/restore.md "Parallel backups"): its parts in order
 * — pre-data, every data part at once, post-data — each streamed from storage into its own
 * `pg_restore --single-transaction` through the SHA-256 gate (stream.ts): no local file, and a
 * part whose bytes differ from the manifest never reaches its end in pg_restore. With more
 * than one job the post-data part (DDL only) is copied and checked first, then restored with
 * `pg_restore -j`, so that the index builds run in parallel. The first
 * failure stops the other parts; the caller drops the scratch database, so nothing that looks
 * restored is left.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../../domain/manifest';
import { dataParts, hasParts, postDataPart, type DumpPart } from '../../domain/manifest-parts';
import type { RestoreTools } from '../../ports/restore';
import { downloadDump } from './download';
import { restoreObjectStreamed, type StreamRestoreOptions } from './stream';

/** Options of restoreParts. */
export interface PartsRestoreOptions extends StreamRestoreOptions {
  /**
   * The post-data part (index builds, constraints: DDL, a small object) from a local copy with
   * `pg_restore -j jobs`, when jobs > 1: a stream can feed only one job, and on a large
   * database the index builds are a large share of the restore. The copy goes into `folder`.
   */
  postData?: { jobs: number; folder: string; tools: Pick<RestoreTools, 'restoreArchive' | 'decompress'> };
}

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
export async function restoreParts(options: PartsRestoreOptions): Promise<void> {
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
  if (!post) return;
  const parallel = options.postData;
  if (!parallel || parallel.jobs <= 1) return one(post, options.signal);
  // Checked whole (size and SHA-256) before pg_restore reads it; the scratch database takes a failure.
  const folder = join(parallel.folder, 'post-data');
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const reading = options.reading ?? ((read) => read());
  const file = await reading(() =>
    downloadDump({ storage: options.storage, tools: parallel.tools, manifest, object: post, folder, ...(options.signal ? { signal: options.signal } : {}), onBytes: progress() }),
  );
  await parallel.tools.restoreArchive(options.into, file, { jobs: parallel.jobs, ...(options.signal ? { signal: options.signal } : {}) });
}
