/**
 * Whether an unfinished write (a temporary file in the repository folder, an S3 multipart
 * upload) still has a live writer, or may be discarded. Pure: the caller reads the catalog
 * entry of the backup the key belongs to, asks whether processes on this host are alive,
 * and passes the facts and `now` in.
 */
import type { BackupEntry } from './backup';
import { describeRunner, judgeLockHolder } from './backup-lock';

/** Why a write was kept or discarded; stable, for logs and tests. */
export type UnfinishedRule =
  /** The process named in the write (same host) is gone. */
  | 'WRITER_GONE'
  /** Its backup is no longer RUNNING (FAILED, UPLOADED, VERIFIED): nothing will complete it. */
  | 'BACKUP_OVER'
  /** Its backup is RUNNING but its writer is gone (process dead, or no heartbeat past the bound). */
  | 'BACKUP_DEAD'
  /** Its backup is not in the catalog, and the write is older than the bound. */
  | 'BACKUP_UNKNOWN'
  /** Not a backup's write, and nothing written to it for longer than the bound. */
  | 'QUIET'
  /** Kept: its backup is RUNNING and its writer alive. */
  | 'BACKUP_LIVE'
  /** Kept: written to (or begun, when no write time is known) within the bound. */
  | 'RECENT'
  /** Kept: not a backup's write, and the storage cannot tell when it was last written to (S3). */
  | 'UNATTRIBUTED';

export interface UnfinishedVerdict {
  action: 'discard' | 'keep';
  rule: UnfinishedRule;
  reason: string;
}

/** What is known of one unfinished write and its writer. */
export interface UnfinishedFacts {
  /** The backup its key belongs to (backupIdOfKey), if any. */
  backupId?: string;
  /** That backup's catalog entry; undefined when it is not in the catalog. */
  entry?: BackupEntry;
  /** Whether the process the write names is alive, when it is a process on this host; otherwise undefined. */
  writerAlive?: boolean;
  /** Whether the entry's runner is alive, when it is a process on this host; otherwise undefined. */
  runnerAlive?: boolean;
  /** When its last byte was written, when the storage knows (the repository folder). */
  lastWriteAt?: Date;
  /** When it began, when the storage knows (S3's Initiated). */
  startedAt?: Date;
}

/**
 * Judges one unfinished write at `now`. A write is discarded only when its writer is proven
 * gone: the process it names is dead; or its backup is past RUNNING; or its backup is RUNNING
 * but its lock could be taken over (judgeLockHolder: runner dead, or no heartbeat for longer
 * than `staleAfterMs`); or its backup is unknown to the catalog and the write older than
 * `staleAfterMs` (a live writer stops itself at its next heartbeat when its entry is gone);
 * or, for a write no backup owns, nothing was written to it for longer than `staleAfterMs`.
 * Everything else is kept — a write whose age the storage cannot tell and that no backup
 * owns is left to the bucket's abort-incomplete-multipart lifecycle rule.
 */
export function judgeUnfinishedWrite(facts: UnfinishedFacts, bounds: { now: Date; staleAfterMs: number }): UnfinishedVerdict {
  if (facts.writerAlive === false) return discard('WRITER_GONE', 'the process that was writing it is gone');
  const seenAt = facts.lastWriteAt ?? facts.startedAt;
  const quietMs = seenAt ? bounds.now.getTime() - seenAt.getTime() : undefined;
  const old = quietMs !== undefined && quietMs > bounds.staleAfterMs;
  const bound = `${Math.round(bounds.staleAfterMs / 1000)} s`;
  if (facts.backupId !== undefined) {
    const { entry } = facts;
    if (!entry) {
      return old ? discard('BACKUP_UNKNOWN', `its backup ${facts.backupId} is not in the catalog, and it began over ${bound} ago`) : keep('RECENT', `its backup ${facts.backupId} is not in the catalog yet, but it is younger than ${bound}`);
    }
    if (entry.state !== 'RUNNING') return discard('BACKUP_OVER', `its backup ${entry.id} is ${entry.state}: nothing will complete this write`);
    const holder = judgeLockHolder(entry, { ...bounds, ...(facts.runnerAlive !== undefined ? { runnerAlive: facts.runnerAlive } : {}) });
    if (holder.verdict === 'dead') return discard('BACKUP_DEAD', `its backup ${entry.id} is RUNNING but ${holder.reason}`);
    return keep('BACKUP_LIVE', `its backup ${entry.id} is RUNNING (${describeRunner(entry.runner)}, heartbeat ${entry.heartbeatAt})`);
  }
  if (facts.lastWriteAt === undefined) return keep('UNATTRIBUTED', 'no backup owns it and the storage cannot tell when it was last written to: the bucket lifecycle rule aborts it');
  return old ? discard('QUIET', `no backup owns it and nothing was written to it for over ${bound}`) : keep('RECENT', `written to within the last ${bound}`);
}

function discard(rule: UnfinishedRule, reason: string): UnfinishedVerdict {
  return { action: 'discard', rule, reason };
}

function keep(rule: UnfinishedRule, reason: string): UnfinishedVerdict {
  return { action: 'keep', rule, reason };
}
