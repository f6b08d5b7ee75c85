import { gunzipSync } from 'node:zlib';
import { decompress } from 'fzstd';
import { StrongboxError } from '../../errors';
import type { WalCompression } from './keys';

/** The most a small WAL file (a `.history` or `.backup` file) may decode to: they are a few KiB. */
export const SMALL_FILE_MAX_BYTES = 1024 * 1024;

/**
 * Decodes a small stored WAL file (a timeline's `.history`, a `.backup` label) as its record
 * says it was compressed. Pure computation on bytes already read (fzstd is a zstd decoder in
 * JavaScript; segments go through the archive's codec instead, shared/ports/wal-codec.ts).
 *
 * @throws StrongboxError WAL_OBJECT_INVALID when the bytes do not decode or decode to more
 *   than {@link SMALL_FILE_MAX_BYTES}.
 */
export function decodeSmallWalFile(stored: Uint8Array, compression: WalCompression, name: string): Buffer {
  let decoded: Uint8Array;
  try {
    if (compression === 'none') decoded = stored;
    else if (compression === 'gzip') decoded = gunzipSync(stored, { maxOutputLength: SMALL_FILE_MAX_BYTES + 1 });
    else decoded = decompress(stored);
  } catch (error) {
    throw invalid(name, `it is not ${compression} data (${(error as Error).message})`, error);
  }
  if (decoded.length > SMALL_FILE_MAX_BYTES) throw invalid(name, `it decodes to more than ${SMALL_FILE_MAX_BYTES} bytes`);
  return Buffer.from(decoded.buffer, decoded.byteOffset, decoded.length);
}

function invalid(name: string, detail: string, cause?: unknown): StrongboxError {
  return new StrongboxError(
    'WAL_OBJECT_INVALID',
    `the archived ${name} cannot be read: ${detail}`,
    'the object was damaged after it was archived: run `strongbox validate` and `strongbox catalog rebuild`; if the timeline is needed, copy the history file from the server (pg_wal/) and push it again',
    cause === undefined ? undefined : { cause },
  );
}
