import type { BackupEntry } from './backup';

/**
 * What the watchdog does with UPLOADED entries that stay unverified: the checksum function
 * timed out, its event was retried twice and dropped, or the objects went missing. Nothing
 * may wait forever: an UPLOADED base backup pins all WAL after it, and retention never
 * deletes an UPLOADED entry. Pure: the entries and `now` in, decisions out.
 */

/** How long verification may take, and how often it is asked again before the entry fails. */
export interface VerifyPolicy {
  /**
   * An UPLOADED entry this long after its upload ended (or after its last re-verification)
   * is acted on. In AWS the checksum function's worst case is 3 attempts × 15 min plus
   * Lambda's retry delays (~48 min): the default, 1 h, is past it.
   */
  verifyWithinMs: number;
  /** Re-verifications asked before the entry is FAILED (default 2: FAILED 3 h after the upload at the latest). */
  maxReverifies: number;
}

export const DEFAULT_VERIFY_POLICY: VerifyPolicy = { verifyWithinMs: 3_600_000, maxReverifies: 2 };

/** One decision about one overdue entry. */
export type UnverifiedDecision =
  | { action: 'reverify'; entry: BackupEntry; attempt: number; overdueSince: string }
  | { action: 'fail'; entry: BackupEntry; reason: string };

/** When the clock of an UPLOADED entry started: its last re-verification, or the end of its upload. */
function since(entry: BackupEntry): string {
  return entry.reverify?.at ?? entry.finishedAt ?? entry.heartbeatAt;
}

/**
 * The UPLOADED entries overdue at `now` (retention's deletions aside), each to be verified
 * again or, once `maxReverifies` were asked in vain, failed with the reason. Entries in
 * other states, and those still within their time, are left out.
 */
export function planUnverified(entries: readonly BackupEntry[], now: Date, policy: VerifyPolicy): UnverifiedDecision[] {
  const decisions: UnverifiedDecision[] = [];
  for (const entry of entries) {
    if (entry.state !== 'UPLOADED' || entry.deleting) continue;
    const from = since(entry);
    if (now.getTime() - Date.parse(from) < policy.verifyWithinMs) continue;
    const attempts = entry.reverify?.attempts ?? 0;
    if (attempts < policy.maxReverifies) {
      decisions.push({ action: 'reverify', entry, attempt: attempts + 1, overdueSince: from });
      continue;
    }
    const uploaded = entry.finishedAt ?? entry.heartbeatAt;
    const hours = ((now.getTime() - Date.parse(uploaded)) / 3_600_000).toFixed(1);
    decisions.push({ action: 'fail', entry, reason: `not VERIFIED ${hours} h after its upload ended (${uploaded}), though verification was asked again ${attempts} time(s): the checksum never finished` });
  }
  return decisions;
}
