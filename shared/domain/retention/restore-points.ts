/**
 * Restore points of the 15-minute job: kept `restorePointHours`, then dropped from the
 * catalog (they are catalog items only; the WAL they point into follows the WAL rules). Pure.
 */
import type { RestorePointDecision, RestorePointView } from './types';

const HOUR_MS = 3_600_000;

function decide(point: RestorePointView, hours: number, now: number): Pick<RestorePointDecision, 'action' | 'rule' | 'reason'> {
  const created = typeof point.createdAt === 'string' ? Date.parse(point.createdAt) : Number.NaN;
  if (typeof point.name !== 'string' || point.name === '' || !Number.isFinite(created)) {
    return { action: 'keep', rule: 'INCOMPLETE_ENTRY', reason: `kept: its createdAt ${JSON.stringify(point.createdAt)} is not a time` };
  }
  if (created > now) return { action: 'keep', rule: 'FROM_THE_FUTURE', reason: `created ${point.createdAt}, after now: clock skew, kept until the clocks agree` };
  const age = (now - created) / HOUR_MS;
  return age <= hours
    ? { action: 'keep', rule: 'WITHIN_WINDOW', reason: `restore point within ${hours} h (${age.toFixed(1)} h old)` }
    : { action: 'delete', rule: 'RESTORE_POINT_EXPIRED', reason: `restore point older than ${hours} h (${age.toFixed(1)} h old)` };
}

/** One decision per restore point, by database then newest first (then name). */
export function planRestorePoints(points: readonly RestorePointView[], hours: number, now: number): RestorePointDecision[] {
  return points
    .map((point): RestorePointDecision => ({ subject: 'restore-point', database: String(point.database), name: String(point.name), createdAt: String(point.createdAt), ...decide(point, hours, now) }))
    .sort((a, b) => (a.database < b.database ? -1 : a.database > b.database ? 1 : 0) || (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
