import { SNSClient } from '@aws-sdk/client-sns';
import { makeDynamoDocumentClient } from '../adapters/catalog/client';
import { DynamoCatalog } from '../adapters/catalog/dynamo';
import { DynamoWalCatalog } from '../adapters/catalog/dynamo-wal';
import type { WalCatalog } from '../adapters/catalog/wal-catalog';
import { SnsAlertPublisher } from '../adapters/sns/alerts';
import { makeS3Client, S3Storage } from '../adapters/storage/s3';
import type { Catalog } from '../adapters/catalog/catalog';
import type { Storage } from '../adapters/storage/storage';
import type { AlertPublisher, Clock, Log } from '../ports';
import { requiredEnv } from './lambda';

export interface AwsDeps {
  storage: Storage;
  catalog: Catalog;
  walCatalog: WalCatalog;
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
  const documents = makeDynamoDocumentClient();
  const table = requiredEnv(env, 'STRONGBOX_TABLE');
  return {
    storage: new S3Storage(makeS3Client(), requiredEnv(env, 'STRONGBOX_BUCKET')),
    catalog: new DynamoCatalog(documents, table),
    walCatalog: new DynamoWalCatalog(documents, table),
    alerts: new SnsAlertPublisher(new SNSClient({}), requiredEnv(env, 'STRONGBOX_ALERT_TOPIC_ARN'), log),
    log,
    clock: () => new Date(),
  };
}
