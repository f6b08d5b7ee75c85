import type { AlertDedupeStore, DedupeClaim } from '../../ports';

/**
 * The dedupe store of one process (local mode): a map from key to the end of its window.
 * JavaScript runs one claim at a time, so a claim is atomic. Never throws.
 */
export class MemoryAlertDedupeStore implements AlertDedupeStore {
  private readonly entries = new Map<string, { claimedAt: number; expiresAt: number; suppressed: number }>();

  async claim(key: string, now: Date, windowMs: number): Promise<DedupeClaim> {
    const at = now.getTime();
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > at) {
      entry.suppressed += 1;
      return { claimed: false };
    }
    this.entries.set(key, { claimedAt: at, expiresAt: at + windowMs, suppressed: 0 });
    // Forget windows long gone so that a long-running `npm start` does not grow forever.
    for (const [other, value] of this.entries) if (value.expiresAt <= at && value.suppressed === 0) this.entries.delete(other);
    return { claimed: true, suppressedBefore: entry?.suppressed ?? 0 };
  }

  async release(key: string, claimedAt: Date): Promise<void> {
    const entry = this.entries.get(key);
    // Only the claim made at that moment: a later one belongs to an alert that was sent.
    if (entry && entry.claimedAt === claimedAt.getTime()) this.entries.delete(key);
  }
}
