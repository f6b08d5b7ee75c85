import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog/client';
import { DynamoCatalog } from '../../shared/adapters/catalog/dynamo';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import type { Storage } from '../../shared/ports/storage';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { formatLsn, parseWalName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';

/**
 * Archives WAL file `name` of `database` into `storage` as the endpoint does, uncompressed:
 * its bytes (unless `writeBytes` is false), then its record (unless `writeRecord` is
 * false). Resolves the record and its key.
 */
export async function archiveRecord(
  storage: Storage,
  database: string,
  name: string,
  options: { bytes?: Buffer; writeBytes?: boolean; writeRecord?: boolean } = {},
): Promise<{ record: WalRecord; key: string }> {
  const parsed = parseWalName(name);
  const bytes = options.bytes ?? Buffer.from(`WAL bytes of ${name}`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const objectKey = walObjectKey(database, name, 'none');
  if (options.writeBytes !== false) await storage.putBytes(objectKey, bytes);
  const record: WalRecord = {
    format: WAL_RECORD_FORMAT,
    database,
    name,
    kind: parsed.kind,
    timeline: parsed.timeline,
    ...(parsed.kind === 'segment' ? { segno: parsed.segno!.toString(), startLsn: formatLsn(segmentStartLsn(parsed.segno!)), endLsn: formatLsn(segmentStartLsn(parsed.segno! + 1n)) } : {}),
    objectKey,
    compression: 'none',
    size: bytes.length,
    sha256,
    storedSize: bytes.length,
    storedSha256: sha256,
    ...(parsed.kind === 'segment' ? { systemId: '7311234567890123456' } : {}),
    archivedAt: '2026-03-01T10:14:59.000Z',
  };
  const key = walRecordKey(database, name);
  if (options.writeRecord !== false) await storage.putBytes(key, JSON.stringify(record));
  return { record, key };
}

/** A repository folder and a catalog on a dynalite of its own: what the indexing tests run on. */
export interface IndexFixture {
  root: string;
  /** The dynalite's endpoint. */
  endpoint: string;
  storage: FolderStorage;
  client: DynamoDBClient;
  walCatalog: DynamoWalCatalog;
  catalog: DynamoCatalog;
  close(): Promise<void>;
}

/** Starts an IndexFixture in a new temporary folder named after `prefix`. */
export async function startIndexFixture(prefix: string): Promise<IndexFixture> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const server = await startDynalite({});
  const client = makeDynamoClient({ endpoint: server.endpoint });
  await ensureCatalogTable(client, 'catalog');
  const documents = toDocumentClient(client);
  return {
    root,
    endpoint: server.endpoint,
    storage: new FolderStorage(join(root, 'repo')),
    client,
    walCatalog: new DynamoWalCatalog(documents, 'catalog'),
    catalog: new DynamoCatalog(documents, 'catalog'),
    async close() {
      client.destroy();
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
