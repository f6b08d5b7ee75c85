import { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { makeDynamoDocumentClient } from '../adapters/catalog/client';
import { DynamoCatalog } from '../adapters/catalog/dynamo';
import { DynamoAlertDedupeStore } from '../adapters/catalog/dynamo-alert-dedupe';
import { DynamoWalCatalog } from '../adapters/catalog/dynamo-wal';
import type { WalCatalog } from '../ports/wal-catalog';
import { SnsAlertPublisher } from '../adapters/sns/alerts';
import { DedupingAlertPublisher } from '../adapters/sns/dedupe';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeS3Client, S3Storage } from '../adapters/storage/s3';
import type { Catalog } from '../ports/catalog';
import type { Storage } from '../ports/storage';
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
 * The alert publisher of a function or task in AWS: the SNS topic (STRONGBOX_ALERT_TOPIC_ARN)
 * behind the dedupe on the catalog table (STRONGBOX_TABLE), so that repeats of one problem
 * within its window are sent once (shared/domain/alerts). The dedupe fails open.
 */
export function awsAlerts(env: NodeJS.ProcessEnv, log: Log, options: { documents?: DynamoDBDocumentClient; sns?: SNSClient; clock?: Clock } = {}): AlertPublisher {
  const documents = options.documents ?? makeDynamoDocumentClient();
  const sns = new SnsAlertPublisher(options.sns ?? new SNSClient({}), requiredEnv(env, 'STRONGBOX_ALERT_TOPIC_ARN'), log);
  return new DedupingAlertPublisher(sns, new DynamoAlertDedupeStore(documents, requiredEnv(env, 'STRONGBOX_TABLE')), log, options.clock);
}

/** The SDK clients behind AwsDeps (given by tests that run a function's wiring against stand-ins). */
export interface AwsClients {
  s3: S3Client;
  documents: DynamoDBDocumentClient;
  sns: SNSClient;
}

/**
 * The adapters of a function or task running in AWS, from the variables serverless.yml
 * sets (STRONGBOX_BUCKET, STRONGBOX_TABLE, STRONGBOX_ALERT_TOPIC_ARN). Clients use the
 * role's credentials and the region of the runtime, unless `clients` are given.
 */
export function awsDeps(env: NodeJS.ProcessEnv, log: Log, clients?: AwsClients): AwsDeps {
  const documents = clients?.documents ?? makeDynamoDocumentClient();
  const table = requiredEnv(env, 'STRONGBOX_TABLE');
  const clock: Clock = () => new Date();
  return {
    storage: new S3Storage(clients?.s3 ?? makeS3Client(), requiredEnv(env, 'STRONGBOX_BUCKET')),
    catalog: new DynamoCatalog(documents, table),
    walCatalog: new DynamoWalCatalog(documents, table),
    alerts: awsAlerts(env, log, { documents, clock, ...(clients ? { sns: clients.sns } : {}) }),
    log,
    clock,
  };
}
