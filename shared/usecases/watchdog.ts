import type { Catalog } from '../ports/catalog';
import type { Storage } from '../ports/storage';
import { staleRunning, type BackupEntry } from '../domain/backup';
import { DEFAULT_VERIFY_POLICY, planUnverified, type VerifyPolicy } from '../domain/unverified';
import { asStrongboxError, ConflictError } from '../errors';
import type { AlertPublisher, Clock, Log, Reverifier } from '../ports';

/**
 * Marks FAILED every RUNNING backup whose task stopped heart-beating for longer than
 * `staleAfterMs`, with the reason, and alerts. Returns the entries it failed. A backup
 * that finished meanwhile (lost condition) is left alone.
 */
export async function failStaleBackups(
  deps: { catalog: Catalog; alerts: AlertPublisher; log: Log; clock: Clock },
  staleAfterMs: number,
): Promise<BackupEntry[]> {
  const now = deps.clock();
  const failed: BackupEntry[] = [];
  for (const entry of staleRunning(await deps.catalog.listByState('RUNNING'), now, staleAfterMs)) {
    const reason = `no heartbeat since ${entry.heartbeatAt}: the task running it stopped (${entry.runner ?? 'unknown runner'})`;
    try {
      failed.push(await deps.catalog.transition(entry.id, 'FAILED', { reason, errorCode: 'HEARTBEAT_LOST', finishedAt: now.toISOString() }, { from: ['RUNNING'] }));
    } catch (error) {
      if (error instanceof ConflictError) continue;
      throw error;
    }
    deps.log.warn('stale backup marked FAILED', { backupId: entry.id, database: entry.database, heartbeatAt: entry.heartbeatAt });
    await deps.alerts.publish({
      type: 'BACKUP_STALLED',
      severity: 'SEV2',
      message: `backup ${entry.id} of database ${entry.database} stopped: ${reason}`,
      hint: 'look at the task logs; the next scheduled run will try again, or run `strongbox backup` now',
      database: entry.database,
      backupId: entry.id,
      code: 'HEARTBEAT_LOST',
      at: now.toISOString(),
    });
  }
  return failed;
}

/** What {@link settleUnverified} did. */
export interface UnverifiedOutcome {
  /** Entries whose verification was asked again. */
  reverified: string[];
  /** Entries it marked FAILED (missing objects, or never verified). */
  failed: BackupEntry[];
}

/**
 * Nothing stays UPLOADED forever: an UPLOADED entry not VERIFIED within
 * `policy.verifyWithinMs` (shared/domain/unverified.ts) has its objects checked in storage.
 * When its manifest, dump or globals are gone it becomes FAILED at once, with a
 * BACKUP_INCOMPLETE alert naming what is missing; otherwise its verification is asked again
 * (`reverifier`, recorded on the entry as `reverify`), and after `maxReverifies` requests in
 * vain it becomes FAILED (VERIFY_TIMEOUT) with a BACKUP_UNVERIFIED alert. An entry verified
 * meanwhile is left alone. Without a reverifier the requests are counted and logged, so the
 * entry still ends FAILED in bounded time.
 */
export async function settleUnverified(
  deps: { catalog: Catalog; storage: Storage; alerts: AlertPublisher; log: Log; clock: Clock; reverifier?: Reverifier },
  policy: VerifyPolicy = DEFAULT_VERIFY_POLICY,
): Promise<UnverifiedOutcome> {
  const now = deps.clock();
  const outcome: UnverifiedOutcome = { reverified: [], failed: [] };
  for (const decision of planUnverified(await deps.catalog.listByState('UPLOADED'), now, policy)) {
    const { entry } = decision;
    const missing = await missingObjects(deps.storage, entry);
    if (missing.length > 0) {
      const reason = `UPLOADED but never verified, and storage lacks its ${missing.map((m) => `${m.what} (${m.key})`).join(', ')}`;
      const failed = await failUnverified(deps, entry, reason, 'OBJECT_NOT_FOUND', now);
      if (failed) {
        outcome.failed.push(failed);
        await alert(deps, failed, 'BACKUP_INCOMPLETE', reason, 'the objects were deleted or never completed: this backup cannot be restored; take a new backup now', now);
      }
      continue;
    }
    if (decision.action === 'fail') {
      const failed = await failUnverified(deps, entry, decision.reason, 'VERIFY_TIMEOUT', now);
      if (failed) {
        outcome.failed.push(failed);
        const hint = "look at the checksum function's logs and its dead-letter queue (a dump too large to re-read within the function's 15 minutes times out); the backup is not trusted until verified: take a new backup now";
        await alert(deps, failed, 'BACKUP_UNVERIFIED', decision.reason, hint, now);
      }
      continue;
    }
    await deps.catalog.update(entry.id, { reverify: { at: now.toISOString(), attempts: decision.attempt } });
    const attributes = { backupId: entry.id, database: entry.database, attempt: decision.attempt, overdueSince: decision.overdueSince, manifestKey: entry.manifestKey };
    if (!deps.reverifier) {
      deps.log.warn('unverified backup: no way to ask for its verification again here; it fails once the requests are used up', attributes);
      continue;
    }
    try {
      await deps.reverifier.reverify(entry.manifestKey);
      outcome.reverified.push(entry.id);
      deps.log.info('unverified backup: verification asked again', attributes);
    } catch (error) {
      // Counted anyway: a reverifier that keeps failing must not keep the entry UPLOADED forever.
      deps.log.error('unverified backup: could not ask for its verification again', { ...attributes, error: asStrongboxError(error).message });
    }
  }
  return outcome;
}

/** The entry's objects (manifest, dump, globals, a parallel backup's parts) that storage does not have. */
async function missingObjects(storage: Storage, entry: BackupEntry): Promise<Array<{ what: string; key: string }>> {
  const objects = [
    { what: 'manifest', key: entry.manifestKey },
    { what: 'dump', key: entry.key },
    ...(entry.globalsKey ? [{ what: 'globals', key: entry.globalsKey }] : []),
    ...(entry.partKeys ?? []).map((key) => ({ what: 'part', key })),
  ];
  const present = await Promise.all(objects.map(async (object) => (await storage.head(object.key)) !== undefined));
  return objects.filter((_, index) => !present[index]);
}

/** UPLOADED → FAILED, or undefined when the entry moved on meanwhile (verified by a late checksum). */
async function failUnverified(deps: { catalog: Catalog; log: Log }, entry: BackupEntry, reason: string, errorCode: string, now: Date): Promise<BackupEntry | undefined> {
  try {
    const failed = await deps.catalog.transition(entry.id, 'FAILED', { reason, errorCode, finishedAt: entry.finishedAt ?? now.toISOString() }, { from: ['UPLOADED'] });
    deps.log.warn('unverified backup marked FAILED', { backupId: entry.id, database: entry.database, code: errorCode, reason });
    return failed;
  } catch (error) {
    if (error instanceof ConflictError) return undefined;
    throw error;
  }
}

async function alert(deps: { alerts: AlertPublisher }, entry: BackupEntry, type: 'BACKUP_INCOMPLETE' | 'BACKUP_UNVERIFIED', reason: string, hint: string, now: Date): Promise<void> {
  await deps.alerts.publish({
    type,
    severity: 'SEV2',
    message: `backup ${entry.id} of database ${entry.database}: ${reason}`,
    hint,
    database: entry.database,
    backupId: entry.id,
    code: entry.errorCode,
    at: now.toISOString(),
  });
}
