/**
 * What the restore benchmark restores from: the catalog (dynalite), the repository folder and
 * the s3rver child, each holding one VERIFIED gzip backup of the benchmark database taken
 * with the real runLogicalBackup, as local mode takes it.
 */
import { startBenchCatalog } from '../harness';
import type { S3Client } from '@aws-sdk/client-s3';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Catalog } from '../../shared/ports/catalog';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { makeS3Client, S3Storage } from '../../shared/adapters/storage/s3';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry } from '../../shared/domain/backup';
import type { Manifest } from '../../shared/domain/manifest';
import { deliverObjectEvents } from '../../shared/local/object-events';
import type { AlertPublisher, Clock, Log } from '../../shared/ports';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { STRONGBOX_VERSION } from '../../shared/runtime/version';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { readManifest } from '../../shared/usecases/index-manifest';
import { S3RVER_CREDENTIALS } from '../../test/support/s3-server';
import { BENCH_DATABASE, type BenchDataset } from '../dataset';
import { startS3rverChild } from '../s3rver-child';

/** One storage and the backup it holds. */
export interface RestoreSource {
  storage: Storage;
  backup: BackupEntry;
  manifest: Manifest;
  /** How long the backup took (informative: bench:backup measures backups). */
  backupMs: number;
}

/** Everything the variants need; the cleanups are registered by setUpFixture. */
export interface RestoreFixture {
  catalog: Catalog;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  /** A private folder for the restores' temporary files (Strongbox's and the plain download's alike). */
  work: string;
  folder: RestoreSource & { /** The dump object's file in the repository folder, which plain pg_restore reads. */ dumpPath: string };
  s3: RestoreSource & { client: S3Client; bucket: string };
}

/**
 * Starts dynalite and the s3rver child, creates the repository folder and the work folder,
 * and takes one gzip backup of the benchmark database into each storage. Every resource
 * registers its cleanup in `cleanups` as soon as it exists.
 *
 * @throws Error when a backup does not end VERIFIED; whatever starting a server throws.
 */
export async function setUpFixture(dataset: BenchDataset, cleanups: Array<() => Promise<void>>, progress: (line: string) => void, signal: AbortSignal): Promise<RestoreFixture> {
  const { catalog, walCatalog } = await startBenchCatalog(cleanups);
  const alerts = new ConsoleAlertPublisher();
  const log = stderrLog();
  const clock = () => new Date();

  const base = await mkdtemp(join(tmpdir(), 'strongbox-bench-restore-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  const work = join(base, 'tmp');
  const repository = join(base, 'repository');
  const s3rver = await startS3rverChild();
  cleanups.push(s3rver.stop);
  progress(`s3rver child pid ${s3rver.pid} at ${s3rver.endpoint}; repository folder ${repository}; temporary files in ${work}`);
  const client = makeS3Client({ endpoint: s3rver.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
  const folderStorage = new FolderStorage(repository);
  const s3Storage = new S3Storage(client, s3rver.bucket);

  const backupInto = async (storage: Storage, name: string): Promise<RestoreSource> => {
    deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
    const started = performance.now();
    const backup = await runLogicalBackup(
      { storage, catalog, alerts, log, clock, tools: pgDumpTools, version: STRONGBOX_VERSION },
      { database: BENCH_DATABASE, connection: dataset.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: `pid:${process.pid}`, signal },
    );
    const backupMs = performance.now() - started;
    if (backup.state !== 'VERIFIED') throw new Error(`the backup into ${name} ended ${backup.state}${backup.reason ? `: ${backup.reason}` : ''}`);
    const manifest = await readManifest(storage, backup.manifestKey);
    progress(`backup ${backup.id} into ${name}: ${(backupMs / 1000).toFixed(1)} s, dump ${(manifest.objects.dump.bytes / 1e6).toFixed(1)} MB`);
    return { storage, backup, manifest, backupMs };
  };
  const folder = await backupInto(folderStorage, 'the repository folder');
  signal.throwIfAborted();
  const s3 = await backupInto(s3Storage, 's3rver');
  await mkdir(work, { mode: 0o700 });
  return {
    catalog,
    alerts,
    log,
    clock,
    work,
    folder: { ...folder, dumpPath: join(repository, ...folder.manifest.objects.dump.key.split('/')) },
    s3: { ...s3, client, bucket: s3rver.bucket },
  };
}

/** WARN and ERROR lines on stderr (a benchmark must show why a run failed); INFO is dropped. */
function stderrLog(): Log {
  const print = (level: string) => (message: string, attributes?: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  return { info: () => undefined, warn: print('WARN'), error: print('ERROR') };
}
