/**
 * The history of physical drills (`validate --pitr`) for `strongbox status`: each recorded on the
 * logical backup whose instant it recovered to, so the catalog entries `status` reads already
 * hold them — RTO and RPO over time, not only the last one. Pure.
 */
import type { BackupEntry, PitrDrillResult } from '../backup';

/** One physical drill as status shows it: the recorded result, the backup it drilled, and its age. */
export interface PitrDrillSummary extends PitrDrillResult {
  /** The logical backup whose instant was recovered. */
  backupId: string;
  ageSeconds: number;
}

/** How many drills status lists (a monthly drill: two years). */
export const DRILLS_SHOWN = 24;

/** The recorded physical drills, newest first, at most `limit`. Entries without a readable time are left out. */
export function pitrDrillHistory(backups: readonly BackupEntry[], now: Date, limit = DRILLS_SHOWN): PitrDrillSummary[] {
  return backups
    .filter((entry) => entry.lastPitrDrill && Number.isFinite(Date.parse(entry.lastPitrDrill.at)) && typeof entry.lastPitrDrill.rtoSeconds === 'number')
    .map((entry) => {
      const drill = entry.lastPitrDrill!;
      return {
        backupId: entry.id,
        at: drill.at,
        ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(drill.at)) / 1000)),
        ok: drill.ok === true,
        rtoSeconds: drill.rtoSeconds,
        ...(drill.replayMBps !== undefined ? { replayMBps: drill.replayMBps } : {}),
        ...(drill.rpoSeconds !== undefined ? { rpoSeconds: drill.rpoSeconds } : {}),
        ...(drill.baseBackupId ? { baseBackupId: drill.baseBackupId } : {}),
        ...(drill.compared !== undefined ? { compared: drill.compared } : {}),
        ...(drill.notCompared !== undefined ? { notCompared: drill.notCompared } : {}),
        ...(drill.reason ? { reason: drill.reason } : {}),
      };
    })
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))
    .slice(0, limit);
}
