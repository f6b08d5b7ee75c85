import { createHash } from 'node:crypto';
import type { Catalog } from '../ports/catalog';
import type { Storage } from '../ports/storage';
import type { BackupEntry } from '../domain/backup';
import type { Manifest } from '../domain/manifest';
import { declaredObjects } from '../domain/manifest';
import { asStrongboxError, ChecksumMismatchError, ConflictError, ObjectNotFoundError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';
import { indexManifest, readManifest } from './index-manifest';
import { hashObject, type HashOptions } from './verify-object';
import type { HashCursor } from '../ports/verify';
import type { VerifyCursor } from '../ports/verify';

/** The time an invocation has (Lambda: context.getRemainingTimeInMillis). */
export interface VerifyBudget {
  remainingMs(): number;
  /** Hand over with this much left (to save the cursor and invoke the next hop); default 60 s. */
  marginMs?: number;
  /** Read-and-hash speed expected with OpenSSL's hash, in bytes/s, to choose the hash; default 100 MB/s. */
  nativeBytesPerSecond?: number;
}

export interface VerifyStepOptions extends Pick<HashOptions, 'concurrency' | 'rangeBytes'> {
  budget?: VerifyBudget;
  resume?: VerifyCursor;
}

/** The entry as the step leaves it; with `continueWith` when it is not finished. */
export interface VerifyStep {
  entry: BackupEntry;
  continueWith?: VerifyCursor;
}

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
 * The checksum function's work, without a deadline: re-reads every object the manifest at
 * `manifestKey` declares and compares size and SHA-256 with the declaration. The entry
 * becomes VERIFIED, or FAILED with the reason and an alert. A repeated event for an entry
 * that is already final changes nothing. Returns the entry as it ends.
 */
export async function verifyBackup(deps: VerifyDeps, manifestKey: string, options: Omit<VerifyStepOptions, 'budget' | 'resume'> = {}): Promise<BackupEntry> {
  return (await verifyBackupStep(deps, manifestKey, options)).entry;
}

/**
 * As verifyBackup, within a time budget (a Lambda invocation): each object is checked
 * against its declared size by a HEAD first, then hashed with parallel ranged reads
 * (verify-object.ts). When what is left of an object would not fit the budget at OpenSSL's
 * expected speed, it is hashed with a hash whose state can be saved; when the budget runs
 * out, the step returns a cursor (`continueWith`) for another invocation to take up
 * (`resume`), and marks the entry's verification as alive (`reverify.at`: the watchdog
 * counts from there, never asking again while the hops make progress). An OpenSSL hash
 * overtaken by the deadline is started again, resumable, by the next hop: a verification
 * never stops without handing over.
 */
export async function verifyBackupStep(deps: VerifyDeps, manifestKey: string, options: VerifyStepOptions = {}): Promise<VerifyStep> {
  const manifest = await readManifest(deps.storage, manifestKey);
  const { entry } = await indexManifest(deps, manifestKey, manifest);
  if (entry.state === 'VERIFIED' || entry.state === 'FAILED') {
    deps.log.info('checksum skipped: entry already final', { backupId: entry.id, state: entry.state });
    return { entry };
  }
  const objects = declaredObjects(manifest);
  const resume = options.resume?.manifestKey === manifestKey ? options.resume : undefined;
  let problem: StrongboxError | undefined;
  for (let index = resume?.object ?? 0; index < objects.length && !problem; index += 1) {
    const declared = objects[index]!;
    const from = index === resume?.object ? resume.hash : undefined;
    try {
      const step = await checkObject(deps, declared, { ...options, from, restartResumable: index === resume?.object && !from }, entry.id);
      if (step instanceof StrongboxError) problem = step;
      else if (step !== undefined) return await handOver(deps, entry, { manifestKey, object: index, ...(step.cursor ? { hash: step.cursor } : {}), hop: (resume?.hop ?? 0) + 1 });
    } catch (error) {
      problem = asStrongboxError(error);
      if (problem.code !== 'OBJECT_NOT_FOUND') throw problem; // storage trouble: let the event be retried
    }
  }
  return { entry: await conclude(deps, entry, problem, objects.length) };
}

/**
 * One object: its damage (a StrongboxError), undefined when it is intact, or where its hash
 * stopped for the budget.
 */
async function checkObject(
  deps: VerifyDeps,
  declared: { key: string; bytes: number; sha256: string },
  options: VerifyStepOptions & { from?: HashCursor; restartResumable: boolean },
  backupId: string,
): Promise<StrongboxError | undefined | { cursor?: HashCursor }> {
  const info = await deps.storage.head(declared.key);
  if (!info) throw new ObjectNotFoundError(declared.key);
  const found = (bytes: number, sha256: string) => new ChecksumMismatchError(declared.key, `${declared.sha256} (${declared.bytes} bytes)`, `${sha256} (${bytes} bytes)`, backupId);
  // A wrong size needs no read.
  if (info.size !== declared.bytes) return found(info.size, '(not read: the size differs)');
  const budget = options.budget;
  const margin = budget?.marginMs ?? 60_000;
  const left = declared.bytes - (options.from?.offset ?? 0);
  const fits = !budget || left <= ((budget.remainingMs() - margin) / 1000) * (budget.nativeBytesPerSecond ?? 100e6);
  const result = await hashObject(deps.storage, declared.key, declared.bytes, {
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.rangeBytes !== undefined ? { rangeBytes: options.rangeBytes } : {}),
    resumable: options.from !== undefined || options.restartResumable || !fits,
    ...(options.from ? { from: options.from } : {}),
    ...(budget ? { shouldPause: () => budget.remainingMs() < margin } : {}),
  });
  if (!result.done) return { ...(result.cursor ? { cursor: result.cursor } : {}) };
  return result.sha256 === declared.sha256 && result.bytes === declared.bytes ? undefined : found(result.bytes, result.sha256);
}

/** The budget ran out: keeps the watchdog off while hops make progress, and returns the cursor. */
async function handOver(deps: VerifyDeps, entry: BackupEntry, cursor: VerifyCursor): Promise<VerifyStep> {
  const updated = await deps.catalog.update(entry.id, { reverify: { at: deps.clock().toISOString(), attempts: entry.reverify?.attempts ?? 0 } });
  deps.log.info('checksum continues in another invocation', { backupId: entry.id, object: cursor.object, offset: cursor.hash?.offset ?? 0, hop: cursor.hop });
  return { entry: updated, continueWith: cursor };
}

/** VERIFIED, or FAILED with the reason and an alert. */
async function conclude(deps: VerifyDeps, entry: BackupEntry, problem: StrongboxError | undefined, objects: number): Promise<BackupEntry> {
  try {
    if (!problem) {
      const verified = await deps.catalog.transition(entry.id, 'VERIFIED', {});
      deps.log.info('backup verified', { backupId: entry.id, objects });
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
