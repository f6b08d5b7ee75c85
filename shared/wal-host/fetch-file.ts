import { open, readFile, rename, unlink } from 'node:fs/promises';
import { StrongboxError } from '../errors';
import { walBuffers } from '../domain/buffer-pool';
import type { ArchiveClient, RecordFacts } from './client';
import { decode, sha256Hex, type CodecOptions } from './codec';

/**
 * Fetching one archived WAL file and writing it whole-or-nothing: through a temporary
 * name, fsync'd, then renamed. Shared by wal-fetch and the prefetcher.
 */

/** Temp files this process is writing: the entry point removes them when it is stopped. */
export const tempFiles = new Set<string>();

/** What a caller may watch during a fetch. */
export interface FetchEvents {
  /** The endpoint said the file is archived (before the download). */
  onFound?: () => void;
  /** A chunk of the download arrived. */
  onChunk?: (received: number) => void;
}

/** Options of a fetch: the codec's, and whether the file is made durable. */
export interface FetchCodecOptions extends CodecOptions {
  /**
   * fsync the file before the rename (default true). The prefetcher's inbox skips it: a
   * file there is only a cache, emptied whenever a prefetcher starts, and recovery that
   * restarts after a crash fetches again.
   */
  durable?: boolean;
}

/**
 * Fetches archived `name` into `target` whole or not at all: downloaded, checked against
 * the record (size and SHA-256 of the stored bytes), decompressed, checked again (size and
 * SHA-256 of the file as PostgreSQL wrote it), written to `temp`, fsync'd and renamed onto `target`.
 * Throws StrongboxError WAL_NOT_FOUND (not archived), CHECKSUM_MISMATCH, WAL_CODEC_FAILED,
 * the endpoint's / the network's error, or the fs error of the write (nothing is left at
 * `target` or `temp` then).
 */
export async function fetchToFile(client: ArchiveClient, name: string, target: string, temp: string, codec: FetchCodecOptions = {}, events: FetchEvents = {}): Promise<void> {
  const { record, stored } = await download(client, name, events);
  let pooled: Buffer | undefined;
  const take = (size: number) => (pooled = walBuffers.take(size));
  try {
    const raw = await decode(stored, record.compression, record.size, codec, take);
    checkRaw(name, raw, record);
    await writeWhole(target, raw, temp, codec.durable !== false);
  } finally {
    if (pooled) walBuffers.give(pooled);
  }
}

/** The record and the downloaded stored bytes, checked against it. */
async function download(client: ArchiveClient, name: string, events: FetchEvents): Promise<{ record: RecordFacts; stored: Buffer }> {
  const plan = await client.prepareFetch(name);
  events.onFound?.();
  const { record } = plan;
  const stored = await client.download(plan, events.onChunk);
  if (stored.length !== record.storedSize || sha256Hex(stored) !== record.storedSha256) {
    throw mismatch(name, `the download is ${stored.length} bytes with SHA-256 ${sha256Hex(stored).slice(0, 12)}…, the record says ${record.storedSize} bytes, ${record.storedSha256.slice(0, 12)}…`);
  }
  return { record, stored };
}

function checkRaw(name: string, raw: Buffer, record: RecordFacts): void {
  if (raw.length !== record.size || sha256Hex(raw) !== record.sha256) {
    throw mismatch(name, `decompressed it is ${raw.length} bytes, the record says ${record.size} bytes with another SHA-256`);
  }
}

function mismatch(name: string, detail: string): StrongboxError {
  return new StrongboxError('CHECKSUM_MISMATCH', `archived ${name} does not match its record: ${detail}`, 'retry; if it persists the stored copy is damaged: run `strongbox doctor` and take a new base backup');
}

/** Writes `bytes` to `target` through `temp`, fsync (when `durable`) and rename. Rejects with the fs error. */
async function writeWhole(target: string, bytes: Buffer, temp: string, durable: boolean): Promise<void> {
  await throughTemp(target, temp, async () => {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(bytes);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/**
 * Moves `source` (a prefetched file) to `target` whole-or-nothing: renamed to the temp name
 * and then onto `target`, so no byte is copied when both are on one filesystem; across
 * filesystems it is read and written whole (fsync'd) instead, then removed. Rejects with the fs error.
 */
export async function moveWhole(source: string, target: string): Promise<void> {
  const temp = `${target}.strongbox.tmp`;
  try {
    await throughTemp(target, temp, () => rename(source, temp));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await writeWhole(target, await readFile(source), temp, true);
    await unlink(source).catch(() => undefined);
  }
}

/** Fills `temp` (registered for removal on a signal), then renames it onto `target`; on failure removes it. */
async function throughTemp(target: string, temp: string, fill: () => Promise<void>): Promise<void> {
  tempFiles.add(temp);
  try {
    await fill();
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  } finally {
    tempFiles.delete(temp);
  }
}
