/**
 * bench:wal's archivers: dynalite, the two Strongbox setups (folder, and s3rver in presign
 * mode) and the pgBackRest archivers, each able to prepare a fresh archive for one pass.
 */
import { startBenchCatalog } from '../harness';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { makeS3Client, S3Storage } from '../../shared/adapters/storage/s3';
import type { WalCompression } from '../../shared/domain/wal/keys';
import type { Log } from '../../shared/ports';
import { S3RVER_CREDENTIALS } from '../../test/support/s3-server';
import { startS3rverChild } from '../s3rver-child';
import { createPgbackrestRepo, type PgbackrestS3 } from './pgbackrest';
import { startTlsProxy } from './tls-proxy';
import { breakdownLine, RequestTimes } from './breakdown';
import type { WalSource } from './source';
import { startStrongboxArchiving, type StrongboxArchiving } from './strongbox';

export interface Options {
  segments: number;
  runs: number;
  liveSeconds: number;
  live: boolean;
  recovery: boolean;
  only?: Set<string>;
}

/** One archiver of the backlog measurement; prepare() gives a fresh, empty archive for one pass. */
export interface Archiver {
  id: string;
  label: string;
  /** Writes to the S3-compatible server (a round runs these after the folder/posix ones). */
  onS3: boolean;
  prepare(round: number, fakeDir: string): Promise<{ command: string; finish(): Promise<number>; indexed?(): Promise<void>; breakdown?(): Promise<string> }>;
}

export const progress = (line: string): void => void process.stderr.write(`[bench:wal] ${line}\n`);

export interface Setup {
  archivers: Archiver[];
  folder: StrongboxArchiving;
  /** The presign setup over s3rver: its live run when `sbx-s3` is measured (capacity on the S3 path). */
  s3?: StrongboxArchiving;
  breakdowns: string[];
}

/** dynalite, the two Strongbox setups (folder and s3rver) and the pgBackRest archivers. */
export async function setUpArchivers(source: WalSource, options: Options, withPgbackrest: boolean, cleanups: Array<() => Promise<void>>): Promise<Setup> {
  const { endpoint: catalogEndpoint, catalog, walCatalog } = await startBenchCatalog(cleanups);
  const requestTimes = new RequestTimes();
  const log = stderrLog(requestTimes);
  const rounds = Array.from({ length: options.runs }, (_, i) => i + 1);
  const compressions: WalCompression[] = ['zstd', 'gzip', 'none'];
  const folderDatabases = [...compressions.flatMap((c) => rounds.map((r) => `${c}-${r}`)), 'live'];
  const folderRoot = join(source.root, 'strongbox-folder');
  await mkdir(folderRoot);
  const folderStorage = new FolderStorage(join(folderRoot, 'home', 'repository'));
  const folder = await startStrongboxArchiving({ root: folderRoot, databases: folderDatabases, storage: folderStorage, storageConfig: { type: 'folder' }, catalog, walCatalog, catalogEndpoint, log });
  cleanups.push(folder.stop);

  const s3rver = await startS3rverChild();
  cleanups.push(s3rver.stop);
  progress(`s3rver child pid ${s3rver.pid} at ${s3rver.endpoint}`);
  // The endpoint presigns with the default credential chain, as it would in AWS.
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  const s3Storage = new S3Storage(makeS3Client({ endpoint: s3rver.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS }), s3rver.bucket);
  const s3Root = join(source.root, 'strongbox-s3');
  await mkdir(s3Root);
  const s3 = await startStrongboxArchiving({
    root: s3Root,
    databases: [...rounds.map((r) => `s3-${r}`), ...rounds.map((r) => `s3none-${r}`), ...rounds.map((r) => `s3held-${r}`), 's3-live'],
    storage: s3Storage,
    storageConfig: { type: 's3', bucket: s3rver.bucket, endpoint: s3rver.endpoint, forcePathStyle: true, region: 'us-east-1' },
    catalog,
    walCatalog,
    catalogEndpoint,
    log,
  });
  cleanups.push(s3.stop);

  const strongbox = (setup: StrongboxArchiving, id: string, label: string, database: (round: number) => string, compression: WalCompression, holdChecks = false): Archiver => ({
    id,
    label,
    onS3: setup === s3,
    async prepare(round) {
      const name = database(round);
      await setup.setCompression(name, compression);
      if (holdChecks) setup.holdChecks();
      return {
        command: setup.archiveCommand(name),
        indexed: () => setup.indexed(),
        async finish() {
          await setup.stopUploader(name);
          const checks = await setup.settle();
          if (checks.ran > 0) progress(`deferred checks after the pass (decoded SHA-256, off complete's path): ${checks.ran} in ${checks.busyMs} ms, ${(checks.busyMs / checks.ran).toFixed(1)} ms each`);
          return setup.storedBytes(name);
        },
        breakdown: async () => breakdownLine(`${label}, round ${round}`, await setup.uploaderLog(name), requestTimes.of(name)),
      };
    },
  });
  // pgBackRest's S3 repository on the same s3rver, through a TLS relay (it speaks HTTPS only).
  const tls = withPgbackrest ? await startTlsProxy(s3rver.endpoint) : undefined;
  if (tls) cleanups.push(tls.stop);
  const s3For = (path: string): PgbackrestS3 | undefined =>
    tls && {
      port: tls.port,
      bucket: s3rver.bucket,
      path,
      async list(prefix) {
        let total = 0;
        for await (const object of s3Storage.list(prefix)) total += object.size;
        return total;
      },
    };
  const pgbr = (id: string, label: string, async: boolean, onS3 = false): Archiver => ({
    id,
    label,
    onS3,
    async prepare(round, fakeDir) {
      const dir = join(source.root, `pgbackrest-${id}-${round}`);
      const repo = await createPgbackrestRepo(dir, source.cluster, { 'compress-type': 'zst', 'compress-level': '1' }, onS3 ? s3For(`pgbr-${id}-${round}`) : undefined);
      return {
        command: repo.archiveCommand({ async, pgPath: fakeDir }),
        async finish() {
          await repo.waitIdle();
          const bytes = await repo.storedBytes('archive');
          await rm(dir, { recursive: true, force: true });
          return bytes;
        },
      };
    },
  });
  const archivers: Archiver[] = [
    ...(withPgbackrest
      ? [
          pgbr('pgbr-sync', 'pgBackRest archive-push, sync (zst -1)', false),
          pgbr('pgbr-async', 'pgBackRest archive-push, async, process-max 2 (zst -1)', true),
          pgbr('pgbr-s3-async', 'pgBackRest archive-push, async, process-max 2 (zst -1) → s3rver (S3 repository, TLS relay)', true, true),
        ]
      : []),
    strongbox(folder, 'sbx-zstd', 'Strongbox → repository folder, zstd -1 (default)', (r) => `zstd-${r}`, 'zstd'),
    strongbox(folder, 'sbx-gzip', 'Strongbox → repository folder, gzip -1', (r) => `gzip-${r}`, 'gzip'),
    strongbox(folder, 'sbx-none', 'Strongbox → repository folder, no compression', (r) => `none-${r}`, 'none'),
    strongbox(s3, 'sbx-s3', 'Strongbox → s3rver (presigned PUT), zstd -1', (r) => `s3-${r}`, 'zstd'),
    strongbox(s3, 'sbx-s3-none', 'Strongbox → s3rver (presigned PUT), no compression', (r) => `s3none-${r}`, 'none'),
    // The deferred decoded checks held until the pass ends: in AWS they are the catalogIndex Lambda's CPU, off the database host.
    strongbox(s3, 'sbx-s3-held', 'Strongbox → s3rver (presigned PUT), zstd -1, deferred checks held to the pass end', (r) => `s3held-${r}`, 'zstd', true),
  ];
  return { archivers: archivers.filter((a) => !options.only || options.only.has(a.id)), folder, ...(!options.only || options.only.has('sbx-s3') ? { s3 } : {}), breakdowns: [] };
}

export function stderrLog(requestTimes: RequestTimes): Log {
  const print = (level: string) => (message: string, attributes?: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  return { info: (message, attributes) => void (message === 'archive request' && attributes && requestTimes.record(attributes)), warn: print('WARN'), error: print('ERROR') };
}
