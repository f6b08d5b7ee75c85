import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Alert, AlertPublisher, Log } from '../../ports';

/** SNS subjects are limited to 100 printable ASCII characters. */
function subjectOf(alert: Alert): string {
  const text = `[${alert.severity}] Strongbox ${alert.type}${alert.database ? ` (${alert.database})` : ''}`;
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}

/**
 * Publishes alerts to the SNS topic that fans out to Slack and e-mail. The message is the
 * alert as JSON; type, severity and database travel as message attributes so that
 * subscriptions can filter. A failed publish is logged, never thrown.
 */
export class SnsAlertPublisher implements AlertPublisher {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
    private readonly log: Log,
  ) {}

  async publish(alert: Alert): Promise<void> {
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
      this.log.error('alert could not be published', { type: alert.type, backupId: alert.backupId, error: (error as Error).name });
    }
  }
}
