import { SNSClient } from '@aws-sdk/client-sns';
import { makeDynamoDocumentClient } from '../adapters/catalog/client';
import { DynamoCatalog } from '../adapters/catalog/dynamo';
import { SnsAlertPublisher } from '../adapters/sns/alerts';
import { makeS3Client, S3Storage } from '../adapters/storage/s3';
import type { Catalog } from '../adapters/catalog/catalog';
import type { Storage } from '../adapters/storage/storage';
import type { AlertPublisher, Clock, Log } from '../ports';
import { requiredEnv } from './lambda';

export interface AwsDeps {
  storage: Storage;
  catalog: Catalog;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
}

/**
 * The adapters of a function or task running in AWS, from the variables serverless.yml
 * sets (STRONGBOX_BUCKET, STRONGBOX_TABLE, STRONGBOX_ALERT_TOPIC_ARN). Clients use the
 * role's credentials and the region of the runtime.
 */
export function awsDeps(env: NodeJS.ProcessEnv, log: Log): AwsDeps {
  return {
    storage: new S3Storage(makeS3Client(), requiredEnv(env, 'STRONGBOX_BUCKET')),
    catalog: new DynamoCatalog(makeDynamoDocumentClient(), requiredEnv(env, 'STRONGBOX_TABLE')),
    alerts: new SnsAlertPublisher(new SNSClient({}), requiredEnv(env, 'STRONGBOX_ALERT_TOPIC_ARN'), log),
    log,
    clock: () => new Date(),
  };
}
