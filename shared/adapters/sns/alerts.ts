import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { boundAlert } from '../../domain/alerts/bounded';
import { StrongboxError } from '../../errors';
import type { Alert, AlertSender, Log } from '../../ports';

/** SNS subjects are limited to 100 printable ASCII characters. */
function subjectOf(alert: Alert): string {
  const text = `[${alert.severity}] Strongbox ${alert.type}${alert.database ? ` (${alert.database})` : ''}`;
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}

/**
 * Publishes alerts to the SNS topic that fans out to Slack and e-mail. The message is the
 * alert as JSON; type, severity and database travel as message attributes so that
 * subscriptions can filter. Every part is bounded first (boundAlert: far below SNS's 256 KB).
 * A failed publish is logged, never thrown.
 */
export class SnsAlertPublisher implements AlertSender {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
    private readonly log: Log,
  ) {}

  /** Publishes, or throws StrongboxError ALERT_NOT_SENT (the SDK error as its cause). */
  async send(raised: Alert): Promise<void> {
    const alert = boundAlert(raised);
    const attributes: Record<string, { DataType: 'String'; StringValue: string }> = {
      type: { DataType: 'String', StringValue: alert.type },
      severity: { DataType: 'String', StringValue: alert.severity },
    };
    if (alert.database) attributes.database = { DataType: 'String', StringValue: alert.database };
    try {
      await this.client.send(
        new PublishCommand({ TopicArn: this.topicArn, Subject: subjectOf(alert), Message: JSON.stringify(alert), MessageAttributes: attributes }),
      );
    } catch (error) {
      throw new StrongboxError('ALERT_NOT_SENT', `alert ${alert.type} could not be published to SNS: ${(error as Error).name}`, 'check the topic, its KMS key and the role\'s sns:Publish', { cause: error });
    }
  }

  async publish(alert: Alert): Promise<void> {
    try {
      await this.send(alert);
    } catch (error) {
      this.log.error('alert could not be published', { type: alert.type, backupId: alert.backupId, error: ((error as Error).cause as Error | undefined)?.name ?? (error as Error).name });
    }
  }
}
