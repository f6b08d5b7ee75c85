/**
 * The steps every backup shares (logical and base): how a failure is explained and cleaned
 * up, the heartbeat, the progress counter, and RUNNING → UPLOADED.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Catalog } from '../ports/catalog';
import type { BackupEntry } from '../domain/backup';
import type { BackupKeys } from '../domain/keys';
import { manifestBytes, type Manifest } from '../domain/manifest';
import { AlreadyRunningError, asStrongboxError, ConflictError, StrongboxError } from '../errors';
import type { Clock } from '../ports';
import type { BackupDeps, BackupProgress } from './backup';

/**
 * The error a failed backup reports: a stop request (SIGTERM) or a lost heartbeat explains
 * the error it caused (a killed pg_dump or pg_basebackup) better than that error does.
 */
export function explainFailure(error: unknown, stopRequest: AbortSignal | undefined, heartbeat: AbortSignal): StrongboxError {
  const reason: unknown = stopRequest?.aborted ? stopRequest.reason : heartbeat.aborted ? heartbeat.reason : undefined;
  return asStrongboxError(reason instanceof StrongboxError ? reason : error);
}

/** Reports bytes written as the stream passes (for the terminal's progress line). */
export function withProgress(source: Readable, startedAt: Date, databaseSizeBytes: number, clock: Clock, report: (p: BackupProgress) => void): Readable {
  let bytes = 0;
  const counter = new PassThrough();
  source.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    report({ bytes, elapsedMs: clock().getTime() - startedAt.getTime(), databaseSizeBytes });
  });
  source.on('error', (error) => counter.destroy(error));
  return source.pipe(counter);
}

/** RUNNING → UPLOADED (a parallel backup's `key` becomes its pre-data part); the checksum function may already have moved it further, which is fine. */
export async function markUploaded(catalog: Catalog, id: string, manifest: Manifest): Promise<void> {
  const partKeys = manifest.objects.parts?.map((part) => part.key);
  try {
    await catalog.transition(id, 'UPLOADED', { key: manifest.objects.dump.key, bytes: manifestBytes(manifest), sha256: manifest.objects.dump.sha256, finishedAt: manifest.finishedAt, ...(partKeys?.length ? { partKeys } : {}) });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
}

/**
 * After a failure: deletes what was written, parts included (unless the manifest made it complete), marks
 * the entry FAILED with the reason and code, and publishes a BACKUP_FAILED alert (SEV2) —
 * except for a refusal because another live backup holds the lock (BACKUP_ALREADY_RUNNING),
 * which is logged at WARN only.
 */
export async function failBackup(
  deps: Pick<BackupDeps, 'storage' | 'catalog' | 'alerts' | 'log' | 'clock'>,
  entry: BackupEntry,
  keys: BackupKeys,
  failure: StrongboxError,
  manifestWritten: boolean,
  /** The parts a parallel backup may have written. */
  partKeys: readonly string[] = [],
): Promise<void> {
  if (!manifestWritten) {
    await deps.storage.delete([keys.dump, keys.globals, keys.manifest, ...partKeys]).catch((error: unknown) =>
      deps.log.error('could not delete the objects of a failed backup', { backupId: entry.id, prefix: keys.prefix, error: String(error) }),
    );
  }
  const finishedAt = deps.clock().toISOString();
  await deps.catalog
    .transition(entry.id, 'FAILED', { reason: failure.message, errorCode: failure.code, finishedAt })
    .catch((error: unknown) => deps.log.error('could not mark the backup FAILED', { backupId: entry.id, error: String(error) }));
  if (failure instanceof AlreadyRunningError) {
    // Refused, not broken: another backup of the database is live and doing the work. A
    // SEV2 on every retry would page for nothing; if that backup never ends VERIFIED, the
    // watchdog (BACKUP_STALLED) and the dead man's switch alert.
    deps.log.warn('backup refused: another backup of the database holds the lock', { backupId: entry.id, database: entry.database, holder: failure.runningId, expiresAt: failure.holder.expiresAt });
    return;
  }
  deps.log.error('backup failed', { backupId: entry.id, database: entry.database, code: failure.code, reason: failure.message });
  await deps.alerts.publish({
    type: 'BACKUP_FAILED',
    severity: 'SEV2',
    message: `backup ${entry.id} of database ${entry.database} failed: ${failure.message}`,
    hint: failure.hint,
    database: entry.database,
    backupId: entry.id,
    code: failure.code,
    at: finishedAt,
  });
}

/** Proves the writer is alive every `heartbeatMs`; aborts when the entry is no longer RUNNING. */
export function startHeartbeat(deps: Pick<BackupDeps, 'catalog' | 'clock' | 'log' | 'heartbeatMs'>, id: string, abort: AbortController): { stop(): void } {
  const timer = setInterval(() => {
    deps.catalog
      .heartbeat(id, deps.clock().toISOString())
      .then((alive) => {
        if (!alive && !abort.signal.aborted) {
          abort.abort(new ConflictError(`backup ${id} is no longer RUNNING in the catalog`, 'the watchdog marked it FAILED (stale heartbeat?); run the backup again'));
        }
      })
      .catch((error: unknown) => deps.log.warn('heartbeat failed', { backupId: id, error: String(error) }));
  }, deps.heartbeatMs ?? 30_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
