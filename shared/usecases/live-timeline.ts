import type { ArchiveStatus } from '../ports/wal-catalog';
import type { BackupEntry } from '../domain/backup';
import { liveTimeline, type LiveTimelineEvidence } from '../domain/wal/live-timeline';

/**
 * The live server's timeline from what the catalog already holds: the archive status (the
 * checkpoint's reading, or a confirmed promotion) and the base backups (each taken from
 * the live server). No extra read.
 */
export function liveTimelineOf(status: ArchiveStatus | undefined, backups: readonly BackupEntry[]): LiveTimelineEvidence | undefined {
  const evidence: LiveTimelineEvidence[] = [];
  for (const entry of backups) {
    if (entry.kind !== 'base' || !entry.base || !entry.finishedAt || entry.state === 'FAILED') continue;
    evidence.push({ timeline: entry.base.timeline, at: entry.finishedAt, source: 'base-backup' });
  }
  if (status?.timeline !== undefined) evidence.push({ timeline: status.timeline, at: status.measuredAt, source: status.timelineSource ?? 'checkpoint' });
  return liveTimeline(evidence);
}
