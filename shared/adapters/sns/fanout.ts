import type { Alert, AlertPublisher } from '../../ports';

/**
 * Sends each alert to several publishers at once (local mode: the console and a Slack
 * webhook). One slow or failing publisher never keeps an alert from the others; never throws.
 */
export class FanOutAlertPublisher implements AlertPublisher {
  constructor(private readonly publishers: readonly AlertPublisher[]) {}

  async publish(alert: Alert): Promise<void> {
    await Promise.allSettled(this.publishers.map((publisher) => publisher.publish(alert)));
  }
}
