import { createHash } from 'node:crypto';
import { InputError } from '../errors';
import type { BackupKind, Compression, Tier } from './backup';

/**
 * Names: backup ids and the storage keys of a backup's objects. Pure.
 *
 * Layout: `<kind>/<tier>/<database>/<id>/{dump|dump.zst, globals.sql, manifest.json}`.
 * The tier is the second segment so that a bucket lifecycle rule can act on a tier
 * (e.g. `logical/monthly/` to cold storage).
 */

const DATABASE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
const BACKUP_ID = /^\d{8}T\d{6}Z-[lb]-[a-z0-9]{6}$/;
export const MANIFEST_NAME = 'manifest.json';

/** True when `name` can name a database in Strongbox (it is a path segment in storage). */
export function isDatabaseName(name: string): boolean {
  return DATABASE_NAME.test(name);
}

/** Throws InputError unless `name` can name a database in Strongbox. */
export function assertDatabaseName(name: string): void {
  if (!isDatabaseName(name)) {
    throw new InputError(
      `database name ${JSON.stringify(name)} is not allowed`,
      'use 1–63 letters, digits, "_", "." or "-" (it is Strongbox\'s name for the database, not necessarily the PostgreSQL name)',
    );
  }
}

/** True when `id` has the shape of a backup id. */
export function isBackupId(id: string): boolean {
  return BACKUP_ID.test(id);
}

function compactTime(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A backup id: `<UTC time>-<l|b>-<6 chars>`, sortable by time. The suffix comes from
 * `seed` (random for a manual backup; database + scheduled time for a scheduled one, so
 * that a repeated schedule event names the same backup and is recognised as a repeat).
 */
export function backupId(kind: BackupKind, at: Date, seed: string): string {
  const suffix = createHash('sha256').update(seed).digest('hex').slice(0, 6);
  return `${compactTime(at)}-${kind === 'logical' ? 'l' : 'b'}-${suffix}`;
}

export interface BackupKeys {
  prefix: string;
  dump: string;
  globals: string;
  manifest: string;
}

/** The storage keys of one backup. */
export function backupKeys(kind: BackupKind, tier: Tier, database: string, id: string, compression: Compression): BackupKeys {
  assertDatabaseName(database);
  const prefix = `${kind}/${tier}/${database}/${id}/`;
  return {
    prefix,
    dump: `${prefix}${compression === 'zstd' ? 'dump.zst' : 'dump'}`,
    globals: `${prefix}globals.sql`,
    manifest: `${prefix}${MANIFEST_NAME}`,
  };
}

/** True when the key names a backup manifest (the object written last). */
export function isManifestKey(key: string): boolean {
  return /^(logical|base)\/[^/]+\/[^/]+\/[^/]+\/manifest\.json$/.test(key);
}

/**
 * The backup an object key belongs to (`<kind>/<tier>/<database>/<id>/…`), or undefined for
 * any other key (WAL, records, the archive's state).
 */
export function backupIdOfKey(key: string): string | undefined {
  const match = /^(?:logical|base)\/[^/]+\/[^/]+\/([^/]+)\/[^/]+$/.exec(key);
  return match && isBackupId(match[1]!) ? match[1] : undefined;
}

/** Where every backup's objects are: `logical/…` and `base/…` (the unfinished-write sweep lists only these on S3). */
export const BACKUP_PREFIXES: readonly string[] = ['logical/', 'base/'];
