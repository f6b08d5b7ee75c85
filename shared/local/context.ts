import type { Catalog } from '../ports/catalog';
import { makeDynamoClient, makeDynamoDocumentClient } from '../adapters/catalog/client';
import { DynamoCatalog } from '../adapters/catalog/dynamo';
import { DynamoWalCatalog } from '../adapters/catalog/dynamo-wal';
import type { WalCatalog } from '../ports/wal-catalog';
import { SlackWebhookClient } from '../adapters/slack/webhook';
import { WebhookAlertPublisher } from '../adapters/slack/webhook-alerts';
import { ConsoleAlertPublisher } from '../adapters/sns/console-alerts';
import { DedupingAlertPublisher } from '../adapters/sns/dedupe';
import { FanOutAlertPublisher } from '../adapters/sns/fanout';
import { MemoryAlertDedupeStore } from '../adapters/sns/memory-dedupe';
import { FolderStorage } from '../adapters/storage/folder';
import { makeS3Client, S3Storage } from '../adapters/storage/s3';
import type { Storage } from '../ports/storage';
import type { AlertsConfig, StorageConfig } from '../config';
import { ConfigError } from '../errors';
import type { AlertPublisher, Clock, Log } from '../ports';
import { ensureCatalogTable, startDynalite } from './dynalite-server';
import { readLiveInstance, type HomePaths } from './home';
import { deliverObjectEvents, type BatchWindow } from './object-events';

export const LOCAL_TABLE = 'strongbox-catalog';

export interface LocalContext {
  storage: Storage;
  catalog: Catalog;
  walCatalog: WalCatalog;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  paths: HomePaths;
  catalogEndpoint: string;
  /** True when this process started the catalog server (no `npm start` running). */
  ownsCatalog: boolean;
  close(): Promise<void>;
}

/** The catalog client for a DynamoDB-compatible endpoint on loopback. */
export function localCatalog(endpoint: string): Catalog {
  return new DynamoCatalog(makeDynamoDocumentClient({ endpoint }), LOCAL_TABLE);
}

/** The WAL catalog on the same local table. */
export function localWalCatalog(endpoint: string): WalCatalog {
  return new DynamoWalCatalog(makeDynamoDocumentClient({ endpoint }), LOCAL_TABLE);
}

/** The storage a config names: the repository folder under the home, or an S3(-compatible) bucket. */
export function localStorage(config: StorageConfig, paths: HomePaths, env: NodeJS.ProcessEnv): Storage {
  if (config.type === 'folder') return new FolderStorage(config.path ?? paths.repository);
  const client = makeS3Client({
    ...(config.region ? { region: config.region } : { region: env.AWS_REGION ?? 'us-east-1' }),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.forcePathStyle !== undefined ? { forcePathStyle: config.forcePathStyle } : {}),
  });
  return new S3Storage(client, config.bucket, config.prefix ? { prefix: config.prefix } : {});
}

/**
 * Local mode's alerts: always one line on the console; when a webhook is configured
 * (STRONGBOX_SLACK_WEBHOOK_URL, else `alerts.webhookUrl` in strongbox.config.json) also
 * the Slack message, with repeats of one problem within its window sent once (the console
 * still shows every one). Throws ConfigError when the variable is not an http(s) URL.
 */
export function localAlerts(options: { env: NodeJS.ProcessEnv; log: Log; config?: AlertsConfig; clock?: Clock; console?: AlertPublisher }): AlertPublisher {
  const consoleAlerts = options.console ?? new ConsoleAlertPublisher();
  const fromEnv = options.env.STRONGBOX_SLACK_WEBHOOK_URL?.trim();
  const url = fromEnv || options.config?.webhookUrl;
  if (!url) return consoleAlerts;
  if (fromEnv && !/^https?:\/\/[^\s]+$/.test(fromEnv)) {
    throw new ConfigError('STRONGBOX_SLACK_WEBHOOK_URL is not an http(s) URL', 'set it to the incoming webhook URL (https://hooks.slack.com/services/…), or unset it');
  }
  const webhook = new WebhookAlertPublisher(new SlackWebhookClient(options.log), url, options.log);
  return new FanOutAlertPublisher([consoleAlerts, new DedupingAlertPublisher(webhook, new MemoryAlertDedupeStore(), options.log, options.clock)]);
}

/**
 * Opens local mode's state: the catalog of the running `npm start` when there is one
 * (never two writers on the catalog files), otherwise a catalog server of its own on
 * 127.0.0.1 over the files in the home; the storage; the alerts (localAlerts); and the local
 * delivery of ObjectCreated events to the same handlers AWS runs.
 * Throws CATALOG_LOCKED when another process holds the catalog files.
 */
export async function openLocalContext(options: {
  paths: HomePaths;
  storage: StorageConfig;
  env: NodeJS.ProcessEnv;
  log: Log;
  alerts?: AlertPublisher;
  /** The config file's `alerts` section (ignored when `alerts` is given). */
  alertsConfig?: AlertsConfig;
  /** Where alerts are shown (ignored when `alerts` is given); default: JSON lines on stderr. */
  alertsConsole?: AlertPublisher;
  clock?: Clock;
  /**
   * Index WAL records after their push answered, in batches formed over this window (the
   * long-running `npm start`: it waits for them before it stops the catalog); otherwise each
   * write waits for its record's indexing (a CLI process may exit right after it).
   */
  walIndexWindow?: BatchWindow;
}): Promise<LocalContext> {
  const { paths, log } = options;
  const clock = options.clock ?? (() => new Date());
  const alerts =
    options.alerts ??
    localAlerts({ env: options.env, log, clock, ...(options.alertsConfig ? { config: options.alertsConfig } : {}), ...(options.alertsConsole ? { console: options.alertsConsole } : {}) });
  const instance = readLiveInstance(paths);
  let endpoint: string;
  let stopCatalog: () => Promise<void> = async () => {};
  if (instance) {
    endpoint = instance.catalogEndpoint;
  } else {
    const server = await startDynalite({ path: paths.catalog });
    endpoint = server.endpoint;
    stopCatalog = server.stop;
    await ensureCatalogTable(makeDynamoClient({ endpoint }), LOCAL_TABLE);
  }
  const storage = localStorage(options.storage, paths, options.env);
  const catalog = localCatalog(endpoint);
  const walCatalog = localWalCatalog(endpoint);
  const events = deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock }, options.walIndexWindow ? { walIndexWindow: options.walIndexWindow } : {});
  return {
    storage,
    catalog,
    walCatalog,
    alerts,
    log,
    clock,
    paths,
    catalogEndpoint: endpoint,
    ownsCatalog: !instance,
    async close() {
      await events.indexNow();
      await stopCatalog();
    },
  };
}
