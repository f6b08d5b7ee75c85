import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../archive-endpoint/http-server';
import { serverUserIds } from '../adapters/postgres/cluster';
import { isRoot } from '../adapters/postgres/process';
import { S3Presigner } from '../adapters/storage/presign';
import { makeS3Client } from '../adapters/storage/s3';
import type { StorageConfig } from '../config';
import { StrongboxError } from '../errors';
import { indexWalRecord } from '../usecases/index-wal';
import type { LocalContext } from './context';
import type { HomePaths } from './home';
import { walHostPaths, type WalHostPaths } from './wal-paths';
import { writeHostScripts } from '../wal-host/scripts';
import { scratchPath } from '../wal-host/spool-protocol';
import { walCodec } from '../adapters/wal-codec/inspect';
import { localWalEncoder } from './wal-encoder';

/**
 * Local mode's WAL archiving: the archive endpoint on 127.0.0.1 (bytes mode over the
 * repository folder, presigned URLs over an S3 repository), its token file, and for each
 * database the host side PostgreSQL runs — a copy of the wal bundle, `wal.json`, the
 * `wal-push` / `wal-fetch` scripts and the spool — all readable (spool: writable) by the
 * server's OS user, since PostgreSQL runs them as that user.
 */

/** The largest stored WAL object the local endpoint accepts (a 1 GiB segment, compressed or not). */
const MAX_SEGMENT_BYTES = (1 << 30) + (1 << 20);

export interface LocalArchiving {
  endpointUrl: string;
  /** Where the tokens are, `<database>` standing for each database's name: one token per database (tokenFiles). */
  tokenFile: string;
  /** Each database's token file: a token covers only its own database's archive. */
  tokenFiles: Map<string, string>;
  hosts: Map<string, WalHostPaths>;
  stop(): Promise<void>;
}

/** One database's token file, beside its wal.json. */
function tokenPath(host: WalHostPaths): string {
  return join(host.dir, 'archive.token');
}

/** The one token of earlier versions, which covered every database: no longer accepted, so removed. */
function sharedTokenPath(paths: HomePaths): string {
  return join(paths.root, 'archive.token');
}

/** Gives a file or folder to the server's OS user when this process is root (PostgreSQL runs the archiver as that user). */
async function giveToServerUser(path: string): Promise<void> {
  if (!isRoot()) return;
  const { uid, gid } = await serverUserIds();
  chownSync(path, uid, gid);
}

/** A database's token file (created once, 0400, owned by the server's OS user): its archiver's credential. */
async function ensureToken(host: WalHostPaths): Promise<string> {
  const file = tokenPath(host);
  mkdirSync(host.dir, { recursive: true, mode: 0o755 });
  if (!existsSync(file)) {
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o400 });
    renameSync(temp, file);
  }
  chmodSync(file, 0o400);
  await giveToServerUser(file);
  const token = readFileSync(file, 'utf8').trim();
  if (!token) throw new StrongboxError('ARCHIVE_TOKEN_EMPTY', `${file} is empty`, 'delete it; the next `npm start` writes a new one');
  return token;
}

/** The port the endpoint had last time (so a running PostgreSQL's wal.json stays right), if any. */
function previousPort(hostConfig: string): number | undefined {
  try {
    const endpoint = (JSON.parse(readFileSync(hostConfig, 'utf8')) as { endpoint?: string }).endpoint;
    const port = endpoint ? Number(new URL(endpoint).port) : NaN;
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

function presignerFor(storage: StorageConfig, env: NodeJS.ProcessEnv): S3Presigner | undefined {
  if (storage.type !== 's3') return undefined;
  const client = makeS3Client({
    region: storage.region ?? env.AWS_REGION ?? 'us-east-1',
    ...(storage.endpoint ? { endpoint: storage.endpoint } : {}),
    ...(storage.forcePathStyle !== undefined ? { forcePathStyle: storage.forcePathStyle } : {}),
  });
  return new S3Presigner(client, storage.bucket, storage.prefix ? { prefix: storage.prefix } : {});
}

/**
 * Starts the endpoint and writes every database's host side. `bundle` is the built
 * `dist/wal.js`. Throws StrongboxError WAL_BUNDLE_MISSING when it was not built.
 */
export async function startLocalArchiving(options: {
  context: LocalContext;
  storage: StorageConfig;
  env: NodeJS.ProcessEnv;
  databases: readonly string[];
  bundle: string;
  compression?: 'none' | 'gzip' | 'zstd';
}): Promise<LocalArchiving> {
  const { context } = options;
  const { paths } = context;
  if (!existsSync(options.bundle)) throw new StrongboxError('WAL_BUNDLE_MISSING', `${options.bundle} does not exist`, 'build it: npm run build');
  rmSync(sharedTokenPath(paths), { force: true });
  // The endpoint serves exactly these databases, each with its own token.
  const databaseTokens = new Map<string, string>();
  for (const database of options.databases) databaseTokens.set(database, await ensureToken(walHostPaths(paths, database)));
  const presigner = presignerFor(options.storage, options.env);
  // Local object events are delivered in-process: a crash can lose one, so "already archived" indexes (idempotently) itself.
  const ensureIndexed = async (recordKey: string) => {
    const indexed = await indexWalRecord({ ...context, codec: walCodec }, recordKey);
    // A withdrawn record is not "already archived": the push fails, PostgreSQL retries, and the retry archives the file anew (occupied.ts).
    if (indexed.outcome === 'damaged') throw new StrongboxError('WAL_DAMAGED', `${indexed.name} was archived with damaged bytes; its record was withdrawn`, 'the retry archives it again');
  };
  const deps = { storage: context.storage, alerts: context.alerts, log: context.log, clock: context.clock, codec: walCodec, ensureIndexed, ...(presigner ? { presigner } : {}) };
  const mode = presigner ? 'presign' : 'bytes';
  const wanted = options.databases.map((name) => previousPort(walHostPaths(paths, name).config)).find((port) => port !== undefined);
  // The WAL hosts run on this machine: each may hand the endpoint a file of its spool instead of a body.
  const handoff = (database: string) => (options.databases.includes(database) ? scratchPath(walHostPaths(paths, database).spool) : undefined);
  // It reads, hashes and compresses each handed-over file once, on worker threads (wal-encoder.ts).
  const encoder = mode === 'bytes' ? localWalEncoder() : undefined;
  const settings = { host: '127.0.0.1', databaseTokens, deps, mode, maxSegmentBytes: MAX_SEGMENT_BYTES, handoff, ...(encoder ? { encoder } : {}) } as const;
  let started: ArchiveEndpointServer;
  try {
    started = await startArchiveEndpoint({ ...settings, port: wanted ?? 0 });
  } catch {
    // The old port is taken: a new one, and every wal.json is rewritten below.
    started = await startArchiveEndpoint({ ...settings, port: 0 }).catch(async (error: unknown) => {
      await encoder?.close();
      throw error;
    });
  }
  const endpoint: ArchiveEndpointServer = {
    ...started,
    async stop() {
      await started.stop();
      await encoder?.close();
    },
  };
  try {
    const bin = join(paths.root, 'bin');
    mkdirSync(bin, { recursive: true, mode: 0o755 });
    const bundle = installWalBundle(options.bundle, bin);
    const hosts = new Map<string, WalHostPaths>();
    for (const database of options.databases) {
      const host = walHostPaths(paths, database);
      mkdirSync(host.dir, { recursive: true, mode: 0o755 });
      mkdirSync(host.spool, { recursive: true, mode: 0o700 });
      await giveToServerUser(dirname(host.spool));
      await giveToServerUser(host.spool);
      const config = {
        database,
        endpoint: endpoint.url,
        auth: { type: 'token', tokenFile: tokenPath(host) },
        spool: host.spool,
        compression: options.compression ?? 'zstd',
      };
      writeFileSync(`${host.config}.tmp`, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
      renameSync(`${host.config}.tmp`, host.config);
      await writeHostScripts({ dir: host.dir, nodePath: process.execPath, bundlePath: bundle, configPath: host.config, spool: host.spool });
      hosts.set(database, host);
    }
    const tokenFiles = new Map([...hosts].map(([database, host]) => [database, tokenPath(host)]));
    return { endpointUrl: endpoint.url, tokenFile: join(paths.root, 'wal', '<database>', 'archive.token'), tokenFiles, hosts, stop: () => endpoint.stop() };
  } catch (error) {
    await endpoint.stop();
    throw error;
  }
}

/**
 * Copies the WAL bundle into `bin` (the folder PostgreSQL's OS user reads it from), with
 * the in-process zstd addon beside it when the build made one (else a stale copy is
 * removed: the bundle then uses the zstd command). Resolves the installed bundle's path.
 */
export function installWalBundle(source: string, bin: string): string {
  const bundle = join(bin, 'wal.js');
  installFile(source, bundle);
  const addon = join(dirname(source), 'zstd.node');
  if (existsSync(addon)) installFile(addon, join(bin, 'zstd.node'));
  else rmSync(join(bin, 'zstd.node'), { force: true });
  return bundle;
}

/** Copies `source` to `target` through a temporary name (a running wal-push keeps the old file), readable by all. */
function installFile(source: string, target: string): void {
  copyFileSync(source, `${target}.tmp`);
  chmodSync(`${target}.tmp`, 0o644);
  renameSync(`${target}.tmp`, target);
}
