import { assertDatabaseName } from '../keys';
import { parseWalName, type WalName } from './names';

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
  return folderFor(database, parseWalName(name, 1 << 20));
}

function folderFor(database: string, file: { kind: WalName['kind']; segment?: string }): string {
  return file.kind === 'history' ? `${walPrefix(database)}history/` : `${walPrefix(database)}${file.segment!.slice(0, 16)}/`;
}

/**
 * The keys of a WAL file's bytes and record, from a name already parsed (a WalFileRef, or
 * a WalName with its database): `walObjectKey` and `walRecordKey` without parsing it again.
 */
export function walKeysOf(file: { database: string; name: string; kind: WalName['kind']; segment?: string }, compression: WalCompression): { objectKey: string; recordKey: string } {
  const folder = folderFor(file.database, file);
  return { objectKey: `${folder}${file.name}${EXTENSION[compression]}`, recordKey: `${folder}${file.name}.json` };
}

/** The key of a WAL file's bytes, compressed as `compression` says. Throws BAD_WAL_NAME. */
export function walObjectKey(database: string, name: string, compression: WalCompression): string {
  return `${folderOf(database, name)}${name}${EXTENSION[compression]}`;
}

/** The key of a WAL file's record (written after its bytes are verified). Throws BAD_WAL_NAME. */
export function walRecordKey(database: string, name: string): string {
  return `${folderOf(database, name)}${name}.json`;
}

/**
 * The key of a withdrawn record: its object proved not to decode to what the record declared
 * (usecases/wal-archive/deferred-check.ts). Never parsed as a record key. Throws BAD_WAL_NAME.
 */
export function walDamagedKey(database: string, name: string): string {
  return `${folderOf(database, name)}${name}.damaged.json`;
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
