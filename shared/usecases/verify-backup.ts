import { createHash } from 'node:crypto';
import type { Catalog } from '../adapters/catalog/catalog';
import type { Storage } from '../adapters/storage/storage';
import type { BackupEntry } from '../domain/backup';
import type { Manifest } from '../domain/manifest';
import { declaredObjects } from '../domain/manifest';
import { asStrongboxError, ChecksumMismatchError, ConflictError, ObjectNotFoundError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';
import { indexManifest, readManifest } from './index-manifest';

export interface VerifyDeps {
  storage: Storage;
  catalog: Catalog;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
}

/** SHA-256 and size of a stored object, read back from storage. */
export async function hashStoredObject(storage: Storage, key: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of await storage.get(key)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * The checksum function's work: re-reads every object the manifest at `manifestKey`
 * declares and compares size and SHA-256 with the declaration. The entry becomes
 * VERIFIED, or FAILED with the reason and an alert. A repeated event for an entry that
 * is already final changes nothing. Returns the entry as it ends.
 */
export async function verifyBackup(deps: VerifyDeps, manifestKey: string): Promise<BackupEntry> {
  const manifest = await readManifest(deps.storage, manifestKey);
  const { entry } = await indexManifest(deps, manifestKey, manifest);
  if (entry.state === 'VERIFIED' || entry.state === 'FAILED') {
    deps.log.info('checksum skipped: entry already final', { backupId: entry.id, state: entry.state });
    return entry;
  }
  let problem: StrongboxError | undefined;
  for (const declared of declaredObjects(manifest)) {
    try {
      const actual = await hashStoredObject(deps.storage, declared.key);
      if (actual.sha256 !== declared.sha256 || actual.bytes !== declared.bytes) {
        problem = new ChecksumMismatchError(declared.key, `${declared.sha256} (${declared.bytes} bytes)`, `${actual.sha256} (${actual.bytes} bytes)`, entry.id);
      }
    } catch (error) {
      problem = asStrongboxError(error);
      if (problem.code !== 'OBJECT_NOT_FOUND') throw problem; // storage trouble: let the event be retried
    }
    if (problem) break;
  }
  try {
    if (!problem) {
      const verified = await deps.catalog.transition(entry.id, 'VERIFIED', {});
      deps.log.info('backup verified', { backupId: entry.id, objects: declaredObjects(manifest).length });
      return verified;
    }
    const failed = await deps.catalog.transition(entry.id, 'FAILED', { reason: problem.message, errorCode: problem.code });
    deps.log.error('backup failed verification', { backupId: entry.id, code: problem.code, reason: problem.message });
    await deps.alerts.publish({
      type: problem.code === 'CHECKSUM_MISMATCH' ? 'CHECKSUM_MISMATCH' : 'BACKUP_INCOMPLETE',
      severity: 'SEV2',
      message: `backup ${entry.id} of database ${entry.database} failed verification: ${problem.message}`,
      hint: problem.hint,
      database: entry.database,
      backupId: entry.id,
      code: problem.code,
      at: deps.clock().toISOString(),
    });
    return failed;
  } catch (error) {
    // Another invocation of the same event got there first.
    if (error instanceof ConflictError) return (await deps.catalog.get(entry.id)) ?? entry;
    throw error;
  }
}

/**
 * The cheap check of a backup already VERIFIED (`catalog rebuild`): one HEAD per object the
 * manifest declares, comparing sizes. Catches a lost or truncated object without reading
 * it; a byte changed in place needs a read (`strongbox validate`). Returns the damage
 * found (CHECKSUM_MISMATCH or OBJECT_NOT_FOUND), or undefined.
 *
 * @throws StorageError when storage cannot answer.
 */
export async function checkStoredSizes(storage: Storage, manifest: Manifest, backupId: string): Promise<StrongboxError | undefined> {
  for (const declared of declaredObjects(manifest)) {
    const info = await storage.head(declared.key);
    if (!info) return new ObjectNotFoundError(declared.key);
    if (info.size !== declared.bytes) {
      return new StrongboxError(
        'CHECKSUM_MISMATCH',
        `backup ${backupId} is damaged: object ${declared.key} holds ${info.size} bytes, but its manifest declares ${declared.bytes}`,
        'the stored copy is truncated or replaced: take a new backup now and keep this one for investigation',
      );
    }
  }
  return undefined;
}
