import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { StrongboxError } from '../errors';
import { parseSegmentHeader } from '../domain/wal/header';
import { parseWalName, type WalName } from '../domain/wal/names';
import type { WalCompression } from '../domain/wal/keys';
import type { ArchiveClient, Declaration } from './client';
import { encode, sha256Hex, type CodecOptions } from './codec';
import { identityOf } from './identity';

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

/** A WAL file read from disk, with the identity of the very bytes read. */
export interface WalFileRead {
  name: string;
  raw: Buffer;
  identity: string;
}

/** What a successful push did. */
export interface PushOutcome {
  status: 'stored' | 'exists';
  identity: string;
  compression: WalCompression;
}

/**
 * Reads the file and its identity, checking that it did not change while being read.
 * Throws StrongboxError BAD_WAL_NAME (its name is not a WAL file's), WAL_READ_FAILED.
 */
export async function readWalFile(path: string): Promise<WalFileRead> {
  const name = basename(path);
  parseAnyWalName(name);
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw readFailed(path, error);
  }
  try {
    const before = identityOf(await handle.stat({ bigint: true }));
    const raw = await handle.readFile();
    const after = identityOf(await handle.stat({ bigint: true }));
    if (before !== after) throw new StrongboxError('WAL_READ_FAILED', `${path} changed while it was read`, 'PostgreSQL does not change a file it asked to archive: check that nothing else writes into pg_wal');
    return { name, raw, identity: after };
  } catch (error) {
    throw error instanceof StrongboxError ? error : readFailed(path, error);
  } finally {
    await handle.close();
  }
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
 * The declaration of a file and the bytes to store. Segments and partials must carry a
 * long page header that agrees with their name and size. Throws StrongboxError
 * WAL_HEADER_INVALID, BAD_WAL_NAME, WAL_CODEC_FAILED.
 */
export async function declare(file: Pick<WalFileRead, 'name' | 'raw'>, compression: WalCompression, codec: CodecOptions = {}): Promise<{ declaration: Declaration; stored: Buffer }> {
  const kind = parseAnyWalName(file.name).kind;
  const facts: Pick<Declaration, 'systemId' | 'segmentSize' | 'pgVersion'> = {};
  if (kind === 'segment' || kind === 'partial') {
    const header = parseSegmentHeader(file.raw);
    const segno = parseWalName(file.name, header.segmentSize).segno!;
    if (file.raw.length !== header.segmentSize) {
      throw headerMismatch(file.name, `it is ${file.raw.length} bytes but its header says segments are ${header.segmentSize}`);
    }
    if (header.pageAddress !== segno * BigInt(header.segmentSize)) {
      throw headerMismatch(file.name, `its header says it starts at byte ${header.pageAddress} of the WAL, not where its name says`);
    }
    facts.systemId = header.systemId;
    facts.segmentSize = header.segmentSize;
    if (header.pgVersion !== undefined) facts.pgVersion = header.pgVersion;
  }
  const encoded = await encode(file.raw, compression, codec);
  return {
    stored: encoded.stored,
    declaration: {
      size: file.raw.length,
      sha256: sha256Hex(file.raw),
      storedSize: encoded.stored.length,
      storedSha256: sha256Hex(encoded.stored),
      compression: encoded.compression,
      ...facts,
    },
  };
}

function headerMismatch(name: string, why: string): StrongboxError {
  return new StrongboxError('WAL_HEADER_INVALID', `${name} does not look like the segment its name says: ${why}`, 'archive only the files PostgreSQL names in %p; if this file is damaged, check the disk under pg_wal');
}

/**
 * Pushes the file at `path` and resolves only when the endpoint answered stored/exists for
 * these very bytes. Throws StrongboxError (the endpoint's code, e.g. WAL_CONFLICT, or
 * ENDPOINT_UNREACHABLE / ENDPOINT_TIMEOUT / WAL_PUSH_UNCONFIRMED).
 */
export async function pushFile(path: string, client: ArchiveClient, compression: WalCompression, codec: CodecOptions = {}): Promise<PushOutcome> {
  const file = await readWalFile(path);
  const { declaration, stored } = await declare(file, compression, codec);
  const plan = await client.preparePush(file.name, declaration);
  const done = plan.status === 'upload' ? await client.upload(file.name, plan, stored, declaration) : plan;
  if (done.record.sha256 !== declaration.sha256 || (done.record.name !== undefined && done.record.name !== file.name)) {
    throw new StrongboxError('WAL_PUSH_UNCONFIRMED', `the archive endpoint answered ${done.status} for ${file.name} with a record of other bytes`, 'the endpoint is not behaving as protocol v1 says; check its version and log');
  }
  return { status: done.status, identity: file.identity, compression: declaration.compression };
}
