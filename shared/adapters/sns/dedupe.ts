import { dedupeKeyOf, dedupeWindowMs } from '../../domain/alerts/dedupe';
import type { Alert, AlertDedupeStore, AlertPublisher, AlertSender, Clock, Log } from '../../ports';

function isSender(publisher: AlertPublisher): publisher is AlertSender {
  return typeof (publisher as Partial<AlertSender>).send === 'function';
}

/**
 * Sends an alert only when its dedupe key was not sent within its type's window (see
 * shared/domain/alerts), so one broken night makes one message, not five hundred. The
 * first alert after a quiet window carries how many repeats were suppressed.
 *
 * Fails open: when the store cannot be asked, the alert is sent anyway (a duplicate is
 * better than a lost alert). When the inner publisher is an AlertSender and the alert
 * could not be sent, the claim is given back so that the next repeat goes out. Never
 * throws, like every AlertPublisher.
 */
export class DedupingAlertPublisher implements AlertPublisher {
  constructor(
    private readonly inner: AlertPublisher | AlertSender,
    private readonly store: AlertDedupeStore,
    private readonly log: Log,
    private readonly clock: Clock = () => new Date(),
  ) {}

  async publish(alert: Alert): Promise<void> {
    const dedupeKey = dedupeKeyOf(alert);
    const now = this.clock();
    let claimed = false;
    let suppressedBefore = 0;
    try {
      const claim = await this.store.claim(dedupeKey, now, dedupeWindowMs(alert));
      if (!claim.claimed) {
        this.log.info('alert suppressed: already sent within its window', { type: alert.type, database: alert.database, backupId: alert.backupId, dedupeKey });
        return;
      }
      claimed = true;
      suppressedBefore = claim.suppressedBefore;
    } catch (error) {
      this.log.warn('alert dedupe unavailable: sending anyway', { type: alert.type, dedupeKey, error: (error as Error).message });
    }
    const outgoing: Alert = { ...alert, dedupeKey, ...(suppressedBefore > 0 ? { suppressed: suppressedBefore } : {}) };
    if (!isSender(this.inner)) {
      await this.inner.publish(outgoing);
      return;
    }
    try {
      await this.inner.send(outgoing);
    } catch (error) {
      this.log.error('alert could not be sent', { type: alert.type, database: alert.database, backupId: alert.backupId, dedupeKey, reason: (error as Error).message, claimReleased: claimed });
      if (claimed) await this.store.release(dedupeKey, now);
    }
  }
}
