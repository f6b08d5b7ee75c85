import type { BackupEntry } from '../backup';
import type { LogicalWindow, RestorePointInTime } from './model';

/**
 * The logical restore window: the moments held by VERIFIED dumps. A dump is one
 * consistent snapshot taken when pg_dump started, so its moment is `startedAt`; between
 * two dumps nothing can be restored. Pure.
 */

/** True when the entry is a restore source: VERIFIED, not being deleted, with a readable start. */
export function isRestorable(entry: BackupEntry): boolean {
  return entry.state === 'VERIFIED' && !entry.deleting && typeof entry.startedAt === 'string' && Number.isFinite(Date.parse(entry.startedAt));
}

/**
 * The VERIFIED logical dumps of `backups` as restore points, newest first, and the span
 * of the full ones (a tables backup restores only some tables, so it does not widen the
 * window). Entries from after `now` (clock skew) are listed but do not move `to`.
 */
export function logicalWindow(backups: readonly BackupEntry[], now: Date): LogicalWindow {
  const points: RestorePointInTime[] = backups
    .filter((entry) => entry.kind === 'logical' && isRestorable(entry))
    .map((entry) => ({ backupId: entry.id, kind: entry.kind, tier: entry.tier, scope: entry.scope, at: new Date(entry.startedAt).toISOString() }))
    .sort((a, b) => (a.at === b.at ? b.backupId.localeCompare(a.backupId) : a.at < b.at ? 1 : -1));
  const full = points.filter((point) => point.scope === 'full' && Date.parse(point.at) <= now.getTime());
  const to = full[0]?.at;
  const from = full.at(-1)?.at;
  return { ...(from ? { from } : {}), ...(to ? { to } : {}), points };
}
