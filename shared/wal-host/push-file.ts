import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { StrongboxError } from '../errors';
import { parseSegmentHeader, SEGMENT_HEADER_SIZE } from '../domain/wal/header';
import { parseWalName, type WalName } from '../domain/wal/names';
import type { WalCompression } from '../domain/wal/keys';
import type { ArchiveClient, Declaration, PushDone } from './client';
import { sharedWalBuffers, walBuffers } from '../domain/buffer-pool';
import { encode, fill, nativeFor, sha256Hex, type CodecOptions } from './codec';
import { identityOf } from './identity';
import type { ZstdWorker } from './zstd-workers';
import type { HandoffTransport } from './handoff';

/**
 * Pushing one WAL file: read it whole, check its name and header, compress, declare, and
 * upload through the endpoint. Shared by the foreground wal-push and the uploader.
 */

/**
 * Parses a name valid for SOME segment size. The default (16 MiB) would refuse names of a
 * cluster initialised with smaller segments (e.g. `…00000FFF` with 1 MiB ones); the real
 * size is checked against the segment header, which is the only place that knows it.
 * Throws StrongboxError BAD_WAL_NAME.
 */
export function parseAnyWalName(name: string): WalName {
  return parseWalName(name, SMALLEST_SEGMENT_SIZE);
}

const SMALLEST_SEGMENT_SIZE = 1 << 20;

/** A WAL file on disk, its name parsed once at the edge (wal-push's %p, the uploader's queue) and passed down. */
export interface WalFile {
  path: string;
  wal: WalName;
}

/** The WalFile at `path`. Throws StrongboxError BAD_WAL_NAME. */
export function walFileAt(path: string): WalFile {
  return { path, wal: parseAnyWalName(basename(path)) };
}

/** What a successful push did. */
export interface PushOutcome {
  status: 'stored' | 'exists';
  identity: string;
  compression: WalCompression;
  /** Milliseconds reading, compressing and hashing the file; then sending it (every request until the answer). */
  encodeMs: number;
  sendMs: number;
}

/** A file read, declared and encoded: what to send. `release()` gives its buffers back once sent. */
export interface PreparedWalFile {
  name: string;
  /** The identity of the very bytes read (identity.ts). */
  identity: string;
  declaration: Declaration;
  stored: Buffer;
  release(): void;
}

/** Options of a push: the codec's, and how the bytes are sent. */
export interface PushCodecOptions extends CodecOptions {
  /**
   * Against a bytes-mode endpoint, send the bytes in the first request instead of preparing
   * first (the uploader: an already archived file, which then costs a wasted transfer, is rare there).
   */
  direct?: boolean;
  /** Worker threads that read, compress and hash the file in chunks (the uploader), when the addon is there. */
  worker?: ZstdWorker;
  /** The local hand-off of the file itself to an endpoint on this host that compresses it (handoffFor). */
  handoff?: HandoffTransport;
}

/** The stored bytes, how they were made, and what the declaration needs of the file. */
interface Encoding {
  stored: Buffer;
  compression: WalCompression;
  facts: Pick<Declaration, 'systemId' | 'segmentSize' | 'pgVersion'>;
  rawSha256: string;
  storedSha256: string;
}

type Take = (size: number) => Buffer;

/**
 * Reads the file (its name must be a WAL file's), declares it and compresses it, checking
 * that it did not change while it was read (by us or the worker). Buffers come from
 * the process's pool: call `release()` when the bytes were sent. Throws StrongboxError
 * BAD_WAL_NAME, WAL_READ_FAILED, WAL_HEADER_INVALID, WAL_CODEC_FAILED.
 */
export async function prepareWalFile(file: WalFile | string, compression: WalCompression, codec: PushCodecOptions = {}): Promise<PreparedWalFile> {
  const { path, wal } = typeof file === 'string' ? walFileAt(file) : file;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw readFailed(path, error);
  }
  const native = compression === 'zstd' ? nativeFor(codec) : undefined;
  const worker = native ? codec.worker : undefined;
  const pool = worker ? sharedWalBuffers : walBuffers;
  const held: Buffer[] = [];
  const take = (size: number) => {
    const buffer = pool.take(size);
    held.push(buffer);
    return buffer;
  };
  const release = () => held.splice(0).forEach((buffer) => pool.give(buffer));
  try {
    const stats = await handle.stat({ bigint: true });
    const before = identityOf(stats);
    const size = Number(stats.size);
    const encoded = worker && native?.bound ? await byWorker(handle, wal, size, worker, native.bound(size), take) : await inProcess(handle, path, wal, size, compression, codec, take);
    if (identityOf(await handle.stat({ bigint: true })) !== before) throw changedWhileRead(path);
    const { stored, rawSha256, storedSha256, facts } = encoded;
    const declaration: Declaration = { size, sha256: rawSha256, storedSize: stored.length, storedSha256, compression: encoded.compression, ...facts };
    return { name: wal.name, identity: before, declaration, stored, release };
  } catch (error) {
    release();
    throw error instanceof StrongboxError ? error : readFailed(path, error);
  } finally {
    await handle.close();
  }
}

/**
 * The uploader's way: the header checked from its first bytes, then a worker reads the file
 * in chunks through SHA-256 and zstd into one buffer: the frame is the only copy in memory.
 */
async function byWorker(handle: FileHandle, wal: WalName, size: number, worker: ZstdWorker, bound: number, take: Take): Promise<Encoding> {
  const head = Buffer.alloc(Math.min(size, SEGMENT_HEADER_SIZE));
  await handle.read(head, 0, head.length, 0);
  const facts = headerFacts(wal, head, size);
  const out = take(bound);
  const done = await worker.compressFile(handle.fd, size, out);
  return { stored: out.subarray(0, done.size), compression: 'zstd', facts, rawSha256: done.rawSha256, storedSha256: done.storedSha256 };
}

/** wal-push's way (one file, then the process ends): the file read whole, compressed on this thread. */
async function inProcess(handle: FileHandle, path: string, wal: WalName, size: number, compression: WalCompression, codec: PushCodecOptions, take: Take): Promise<Encoding> {
  const raw = take(size);
  if (!(await fill(handle, raw))) throw changedWhileRead(path);
  const facts = headerFacts(wal, raw, size);
  const encoded = await encode(raw, compression, codec, take);
  return { ...encoded, facts, rawSha256: sha256Hex(raw), storedSha256: sha256Hex(encoded.stored) };
}

export function changedWhileRead(path: string): StrongboxError {
  return new StrongboxError('WAL_READ_FAILED', `${path} changed while it was read`, 'PostgreSQL does not change a file it asked to archive: check that nothing else writes into pg_wal');
}

/** WAL_PUSH_UNCONFIRMED: the endpoint answered for `name` with a record of another file. */
export function unconfirmed(done: PushDone, name: string): StrongboxError {
  return new StrongboxError('WAL_PUSH_UNCONFIRMED', `the archive endpoint answered ${done.status} for ${name} with a record of another file`, 'the endpoint is not behaving as protocol v1 says; check its version and log');
}

function readFailed(path: string, error: unknown): StrongboxError {
  const code = (error as NodeJS.ErrnoException).code;
  return new StrongboxError(
    'WAL_READ_FAILED',
    `cannot read ${path} (${code ?? (error as Error).message})`,
    code === 'ENOENT' ? 'archive_command must get %p; the file is gone from pg_wal' : 'the postgres OS user must be able to read pg_wal',
    { cause: error },
  );
}

/**
 * The header facts a declaration carries: segments and partials must have a long page
 * header (in `head`, the file's first bytes) that agrees with their name and `size`; other
 * files have none. The name was parsed for any segment size: only the header knows this
 * cluster's, and with it the segment number. Throws StrongboxError WAL_HEADER_INVALID, BAD_WAL_NAME.
 */
export function headerFacts(wal: WalName, head: Uint8Array, size: number): Pick<Declaration, 'systemId' | 'segmentSize' | 'pgVersion'> {
  if (wal.kind !== 'segment' && wal.kind !== 'partial') return {};
  const { name } = wal;
  const header = parseSegmentHeader(head);
  const segno = parseWalName(name, header.segmentSize).segno!;
  if (size !== header.segmentSize) {
    throw headerMismatch(name, `it is ${size} bytes but its header says segments are ${header.segmentSize}`);
  }
  if (header.pageAddress !== segno * BigInt(header.segmentSize)) {
    throw headerMismatch(name, `its header says it starts at byte ${header.pageAddress} of the WAL, not where its name says`);
  }
  return { systemId: header.systemId, segmentSize: header.segmentSize, ...(header.pgVersion !== undefined ? { pgVersion: header.pgVersion } : {}) };
}

function headerMismatch(name: string, why: string): StrongboxError {
  return new StrongboxError('WAL_HEADER_INVALID', `${name} does not look like the segment its name says: ${why}`, 'archive only the files PostgreSQL names in %p; if this file is damaged, check the disk under pg_wal');
}

/** Prepare, then upload as the plan says; the stored bytes go back to the pool once sent, before `complete`. */
async function prepareAndUpload(client: ArchiveClient, file: PreparedWalFile): Promise<PushDone> {
  const plan = await client.preparePush(file.name, file.declaration);
  return plan.status === 'upload' ? client.upload(file.name, plan, file.stored, file.declaration, file.release) : plan;
}

/**
 * Pushes the file (a path is parsed here) and resolves only when the endpoint answered stored/exists for
 * these very bytes. Throws StrongboxError (the endpoint's code, e.g. WAL_CONFLICT, or
 * ENDPOINT_UNREACHABLE / ENDPOINT_TIMEOUT / WAL_PUSH_UNCONFIRMED).
 */
export async function pushFile(path: WalFile | string, client: ArchiveClient, compression: WalCompression, codec: PushCodecOptions = {}): Promise<PushOutcome> {
  const started = performance.now();
  const wal = typeof path === 'string' ? walFileAt(path) : path;
  const handed = codec.handoff ? await codec.handoff.send(client, wal.path, wal.wal.name, compression) : undefined;
  if (handed) return { status: handed.done.status, identity: handed.identity, compression, encodeMs: 0, sendMs: Math.round(performance.now() - started) };
  const file = await prepareWalFile(wal, compression, codec);
  const encoded = performance.now();
  try {
    const { declaration } = file;
    const done = codec.direct && (await client.health()).mode === 'bytes' ? await client.putBody(file.name, file.stored, file.declaration) : await prepareAndUpload(client, file);
    if (done.record.sha256 !== declaration.sha256 || (done.record.name !== undefined && done.record.name !== file.name)) throw unconfirmed(done, file.name);
    return { status: done.status, identity: file.identity, compression: declaration.compression, encodeMs: Math.round(encoded - started), sendMs: Math.round(performance.now() - encoded) };
  } finally {
    file.release();
  }
}
