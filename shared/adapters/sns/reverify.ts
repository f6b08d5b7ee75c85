import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { objectCreatedEvent } from '../../domain/object-event';
import { StrongboxError } from '../../errors';
import type { Clock, Reverifier } from '../../ports';

/**
 * Asks for a backup's verification again in AWS: publishes its manifest's S3 ObjectCreated
 * event, in S3's own shape, to the topic the bucket notifies (STRONGBOX_OBJECT_CREATED_TOPIC_ARN).
 * The checksum function verifies it as it did the first time (with Lambda's retries and the
 * function's failure destination); catalog-index receives it too and finds the entry
 * already recorded.
 */
export class SnsReverifier implements Reverifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
    private readonly bucket: string,
    private readonly clock: Clock,
    private readonly region?: string,
  ) {}

  /** @throws StrongboxError REVERIFY_NOT_SENT (the SDK error as its cause). */
  async reverify(manifestKey: string): Promise<void> {
    const event = objectCreatedEvent({ bucket: this.bucket, key: manifestKey, size: 0, time: this.clock(), ...(this.region ? { region: this.region } : {}) });
    try {
      await this.client.send(new PublishCommand({ TopicArn: this.topicArn, Message: JSON.stringify(event) }));
    } catch (error) {
      throw new StrongboxError(
        'REVERIFY_NOT_SENT',
        `the verification of ${manifestKey} could not be asked again on ${this.topicArn}: ${(error as Error).name}`,
        "check that the watchdog's role may sns:Publish on the object-created topic (serverless.yml)",
        { cause: error },
      );
    }
  }
}
