/**
 * `strongbox validate <base-backup-id>`: the read check of a physical base backup. Its
 * stored object is read whole through SHA-256, zstd and `tar -t` and compared with its
 * manifest: proof that the bytes are the ones written and that the archive reads to its
 * end. It is not a recovery drill (no server is started from it).
 */
import { performance } from 'node:perf_hooks';
import type { Storage } from '../../ports/storage';
import type { StoredBaseBackup } from '../../ports/postgres';
import type { BackupEntry } from '../../domain/backup';
import { asStrongboxError, StrongboxError } from '../../errors';
import { markBackupDamaged, provesDamage, type DamageDeps } from '../backup-damaged';
import { readManifest } from '../index-manifest';
import { seconds } from '../phase-timer';
import { alertValidationFailed } from './steps';

/** What the read check needs: the storage, the damage path, and a reader of tar streams (recovery.ts's readBaseBackup). */
export interface BaseReadDeps extends DamageDeps {
  storage: Storage;
  readBaseBackup(options: StoredBaseBackup): Promise<{ entries: number }>;
}

/** What the read check reports (the `--json` shape). */
export interface BaseReadReport {
  backupId: string;
  database: string;
  kind: 'base';
  /** Always `read`: the bytes were proved, no recovery was run. */
  check: 'read';
  ok: boolean;
  /** When the check started (ISO-8601 UTC). */
  at: string;
  seconds: number;
  /** The object read and its size as the manifest declares it. */
  key: string;
  bytes: number;
  /** Entries the tar archive lists (null when the check failed). */
  entries: number | null;
  /** True when this check made the backup FAILED (its bytes are not the manifest's). */
  markedFailed: boolean;
  reason?: string;
  code?: string;
  hint?: string;
}

/**
 * Reads `backup` (a VERIFIED base backup) back from storage and compares it with its
 * manifest. Damage (CHECKSUM_MISMATCH, a short or missing object) makes the backup FAILED
 * with an alert (backup-damaged.ts); any other failure (an archive tar cannot read, a
 * manifest that cannot be parsed) publishes VALIDATION_FAILED. Returns a report with `ok`.
 * Records nothing as `lastValidation`: that holds restore drills.
 *
 * @throws StrongboxErrors that say nothing about the backup (storage unreachable, cold storage).
 */
export async function runBaseReadCheck(deps: BaseReadDeps, backup: BackupEntry): Promise<BaseReadReport> {
  const at = deps.clock().toISOString();
  const started = performance.now();
  const keys = { backupId: backup.id, database: backup.database };
  const base = { ...keys, kind: 'base' as const, check: 'read' as const, at, key: backup.key, bytes: backup.bytes ?? 0 };
  deps.log.info('base backup read check started', { ...keys, key: backup.key });
  try {
    const manifest = await readManifest(deps.storage, backup.manifestKey);
    const declared = manifest.objects.dump;
    const body = await deps.storage.get(declared.key);
    const { entries } = await deps.readBaseBackup({ body, compression: manifest.compression === 'zstd' ? 'zstd' : 'none', key: declared.key, sha256: declared.sha256, bytes: declared.bytes, backupId: backup.id });
    const took = seconds(performance.now() - started);
    deps.log.info('base backup read check passed', { ...keys, key: declared.key, bytes: declared.bytes, entries, seconds: took });
    return { ...base, key: declared.key, bytes: declared.bytes, ok: true, seconds: took, entries, markedFailed: false };
  } catch (error) {
    const failure = asStrongboxError(error);
    const damaged = provesDamage(failure);
    if (!damaged && !(failure instanceof StrongboxError && ['RECOVERY_FAILED', 'MANIFEST_INVALID'].includes(failure.code))) throw failure;
    const markedFailed = damaged ? await markBackupDamaged(deps, backup, failure, 'by a read check (strongbox validate)') : false;
    if (!damaged) await alertValidationFailed(deps, backup, failure, 'failed its read check');
    deps.log.error('base backup read check failed', { ...keys, code: failure.code, reason: failure.message });
    return { ...base, ok: false, seconds: seconds(performance.now() - started), entries: null, markedFailed, reason: failure.message, code: failure.code, hint: failure.hint };
  }
}
