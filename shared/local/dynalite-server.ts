/**
 * Local mode's catalog: dynalite (DynamoDB's protocol over LevelDB) on 127.0.0.1, and
 * the creation of the catalog table in it.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { CATALOG_TABLE_SCHEMA, createTableInput } from '../adapters/catalog/schema';
import { describeTarget, isResourceNotFound, toCatalogError } from '../adapters/catalog/sdk-errors';
import { CatalogError, StrongboxError } from '../errors';

/** Where dynalite keeps its data and where it listens. */
export interface DynaliteOptions {
  /** The LevelDB directory (created if missing); in memory when absent. */
  path?: string;
  /** 0 or absent: a free port chosen by the system. */
  port?: number;
  /** Only loopback: the catalog has no authentication. */
  host?: '127.0.0.1';
}

/** A running dynalite. */
export interface DynaliteServer {
  /** `http://127.0.0.1:PORT`, for the SDK's `endpoint`. */
  endpoint: string;
  port: number;
  /** Stops listening and closes the LevelDB files. Safe to call twice, and unbound. */
  stop(): Promise<void>;
}

const TABLE_READY_TIMEOUT_MS = 10_000;

/**
 * Fails fast when another process has the LevelDB directory open. dynalite itself only
 * finds out at its first request, and then crashes the process from inside a stream.
 * The probe opens the directory with the same `level` dynalite uses, then closes it.
 */
async function probeLevelLock(path: string): Promise<void> {
  const requireFromHere = createRequire(import.meta.url);
  const requireFromDynalite = createRequire(requireFromHere.resolve('dynalite'));
  const { Level } = requireFromDynalite('level') as { Level: new (path: string) => { open(): Promise<void>; close(): Promise<void> } };
  const db = new Level(path);
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new StrongboxError(
        'CATALOG_LOCKED',
        `the catalog in ${path} is in use by another process`,
        'another Strongbox process holds the catalog: use the running `npm start` instance, or stop it first',
        { cause: error },
      );
    }
    throw new CatalogError(`cannot open the catalog in ${path}: ${(error as Error).message}`, 'check that the directory is readable and writable by this user and not damaged', { cause: error });
  }
  await db.close();
}

/**
 * Starts dynalite on 127.0.0.1 with tables ready at once (no CREATING delay worth waiting
 * for). Throws StrongboxError `CATALOG_LOCKED` when another process holds `path`, and
 * CatalogError when the directory cannot be opened or the port cannot be bound.
 */
export async function startDynalite(options: DynaliteOptions = {}): Promise<DynaliteServer> {
  const host = '127.0.0.1';
  if (options.path !== undefined) {
    await mkdir(options.path, { recursive: true });
    await probeLevelLock(options.path);
  }
  const server = dynalite({
    ...(options.path !== undefined ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new CatalogError(`cannot listen on ${host}:${options.port ?? 0} for the catalog: ${error.code ?? error.message}`, 'choose another port, or stop the process that uses it', { cause: error }));
    };
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(new CatalogError(`the catalog server did not stop cleanly: ${error.message}`, 'its files are closed on exit; run the command again if one failed', { cause: error })) : resolve()));
      // Keep-alive sockets of SDK clients would hold close() open until they time out.
      server.closeIdleConnections();
    });
    return stopping;
  };
  return { endpoint: `http://${host}:${port}`, port, stop };
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (isResourceNotFound(error)) return undefined;
    throw await toCatalogError(error, 'describe the catalog table', client, tableName);
  }
}

/** An existing table without the catalog's indexes would fail every list later, less clearly. */
async function checkShape(client: DynamoDBClient, tableName: string, table: TableDescription): Promise<void> {
  const wanted = CATALOG_TABLE_SCHEMA.GlobalSecondaryIndexes.map((index) => index.IndexName);
  const present = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const missing = wanted.filter((name) => !present.has(name));
  const keys = (table.KeySchema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
  if (missing.length > 0 || keys !== 'pk:HASH,sk:RANGE') {
    throw new CatalogError(
      `${await describeTarget(client, tableName)} is not a Strongbox catalog (keys ${keys || 'none'}${missing.length > 0 ? `, missing indexes ${missing.join(', ')}` : ''})`,
      'point Strongbox at its own table, or delete this one so that it is created again',
    );
  }
}

/**
 * Creates the catalog table (schema.ts) unless it exists, and returns once it is ACTIVE.
 * Throws CatalogError when the endpoint fails, when an existing table has another shape,
 * or when the table is not ACTIVE within 10 s.
 */
export async function ensureCatalogTable(client: DynamoDBClient, tableName: string): Promise<void> {
  let table = await describe(client, tableName);
  if (!table) {
    try {
      await client.send(new CreateTableCommand(createTableInput(tableName)));
    } catch (error) {
      // Another process created it between our describe and create: fine, wait for it below.
      if ((error as Error).name !== 'ResourceInUseException') throw await toCatalogError(error, 'create the catalog table', client, tableName);
    }
  }
  const deadline = Date.now() + TABLE_READY_TIMEOUT_MS;
  for (;;) {
    table = await describe(client, tableName);
    if (table?.TableStatus === 'ACTIVE') return checkShape(client, tableName, table);
    if (Date.now() > deadline) {
      throw new CatalogError(`${await describeTarget(client, tableName)} is still ${table?.TableStatus ?? 'missing'} after ${TABLE_READY_TIMEOUT_MS / 1000} s`, 'check the DynamoDB endpoint, then run the command again');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
