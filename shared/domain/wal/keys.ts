import { assertDatabaseName } from '../keys';
import { parseWalName } from './names';

/**
 * Where the WAL archive of a database lives in storage. Pure.
 *
 * Layout under `wal/<database>/`:
 * - `archive.json`: the archive's identity (system identifier, segment size), written once.
 * - `history/<TTTTTTTT>.history` (+ `.json` record).
 * - `<TTTTTTTTLLLLLLLL>/<name><ext>` for segments, backup labels and partial segments,
 *   beside `<name>.json`, the record written last (what the object-created event indexes).
 * Grouping by the first 16 hex digits keeps a directory at ≤ 256 segments (4 GiB of WAL).
 */

export type WalCompression = 'none' | 'gzip' | 'zstd';

const EXTENSION: Record<WalCompression, string> = { none: '', gzip: '.gz', zstd: '.zst' };

/** The prefix of a database's WAL archive. */
export function walPrefix(database: string): string {
  assertDatabaseName(database);
  return `wal/${database}/`;
}

/** The key of the archive identity document. */
export function archiveIdentityKey(database: string): string {
  return `${walPrefix(database)}archive.json`;
}

function folderOf(database: string, name: string): string {
  // The smallest segment size allows the widest low part; the folder needs only the first 16 digits.
  const parsed = parseWalName(name, 1 << 20);
  return parsed.kind === 'history' ? `${walPrefix(database)}history/` : `${walPrefix(database)}${parsed.segment!.slice(0, 16)}/`;
}

/** The key of a WAL file's bytes, compressed as `compression` says. Throws BAD_WAL_NAME. */
export function walObjectKey(database: string, name: string, compression: WalCompression): string {
  return `${folderOf(database, name)}${name}${EXTENSION[compression]}`;
}

/** The key of a WAL file's record (written after its bytes are verified). Throws BAD_WAL_NAME. */
export function walRecordKey(database: string, name: string): string {
  return `${folderOf(database, name)}${name}.json`;
}

/** The database and WAL file name of a record key, or undefined when `key` is not one. */
export function parseWalRecordKey(key: string): { database: string; name: string } | undefined {
  const match = /^wal\/([^/]+)\/(?:history|[0-9A-F]{16})\/([^/]+)\.json$/.exec(key);
  if (!match) return undefined;
  try {
    if (walRecordKey(match[1]!, match[2]!) !== key) return undefined;
  } catch {
    return undefined;
  }
  return { database: match[1]!, name: match[2]! };
}
