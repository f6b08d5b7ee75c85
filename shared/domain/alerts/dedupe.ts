import type { Alert } from '../../ports';
import { alertTypeSpec, UNKNOWN_TYPE_SPEC, type DedupeScope } from './registry';

/**
 * Deduplication keys: alerts with the same key are "the same problem", sent once per
 * window. A backup-scoped failure is keyed by its backup id alone, so the dump task's
 * BACKUP_FAILED, the ECS rule's TASK_FAILED and the watchdog's BACKUP_STALLED about one
 * broken backup make one message (whichever arrives first, usually the most precise).
 */

/** Key parts may not contain the separator, and stay short enough for a DynamoDB key. */
function part(value: string | undefined): string {
  return value === undefined || value === '' ? '-' : value.replace(/[#\s]/g, '_').slice(0, 200);
}

function scopedKey(scope: DedupeScope, alert: Alert): string {
  if (scope === 'backup' && alert.backupId) return `backup#${part(alert.backupId)}`;
  if (scope === 'database-code') return `${alert.type}#${part(alert.database)}#${part(alert.code)}`;
  return `${alert.type}#${part(alert.database)}`;
}

/** The alert's dedupe key: its own `dedupeKey` when set, otherwise from its type's scope. */
export function dedupeKeyOf(alert: Alert): string {
  if (alert.dedupeKey) return alert.dedupeKey;
  return scopedKey(alertTypeSpec(alert.type)?.scope ?? UNKNOWN_TYPE_SPEC.scope, alert);
}

/** How long repeats of this alert stay quiet after one is sent, in milliseconds. */
export function dedupeWindowMs(alert: Alert): number {
  return (alertTypeSpec(alert.type)?.windowSeconds ?? UNKNOWN_TYPE_SPEC.windowSeconds) * 1000;
}
