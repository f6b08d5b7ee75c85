import { boundAlert } from '../../domain/alerts/bounded';
import { slackMessage } from '../../domain/alerts/slack-message';
import type { CommandTarget } from '../../domain/alerts/commands';
import { StrongboxError } from '../../errors';
import type { Alert, AlertSender, Log } from '../../ports';
import type { SlackWebhookClient } from './webhook';

/**
 * Publishes alerts straight to a Slack-compatible webhook (local mode; in AWS the
 * notifySlack function does this from the SNS topic). Never throws: a failed delivery
 * is logged with the alert's type and the reason.
 */
export class WebhookAlertPublisher implements AlertSender {
  constructor(
    private readonly client: SlackWebhookClient,
    private readonly url: string,
    private readonly log: Log,
    private readonly target: CommandTarget = { mode: 'local' },
  ) {}

  /** Posts, or throws StrongboxError ALERT_NOT_SENT once the client's retries are spent. */
  async send(alert: Alert): Promise<void> {
    const outcome = await this.client.post(this.url, slackMessage(boundAlert(alert), this.target));
    if (!outcome.delivered) {
      throw new StrongboxError('ALERT_NOT_SENT', `alert ${alert.type} not delivered to the Slack webhook after ${outcome.attempts} attempt(s): ${outcome.reason}`, 'check the webhook URL and that Slack is reachable');
    }
  }

  async publish(alert: Alert): Promise<void> {
    try {
      await this.send(alert);
    } catch (error) {
      this.log.error('alert not delivered to the Slack webhook', { type: alert.type, database: alert.database, backupId: alert.backupId, reason: (error as Error).message });
    }
  }
}
