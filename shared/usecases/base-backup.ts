import { randomUUID } from 'node:crypto';
import type { Catalog } from '../ports/catalog';
import type { PgConnection } from '../ports/postgres';
import type { Storage, WriteResult } from '../ports/storage';
import type { BackupEntry, BaseBackupInfo, BaseCompression, Tier } from '../domain/backup';
import { baseBackupInfo } from '../domain/base-manifest';
import { backupId, backupKeys, type BackupKeys } from '../domain/keys';
import { MANIFEST_FORMAT_VERSION, serializeManifest, type Manifest } from '../domain/manifest';
import { MAX_OBJECT_BYTES, objectSizeEstimate } from '../domain/part-plan';
import { ConflictError, InputError, ObjectTooLargeError } from '../errors';
import type { AlertPublisher, Clock, Log, ProcessProbe } from '../ports';
import { explainFailure, failBackup, markUploaded, startHeartbeat, withProgress, type BackupProgress } from './backup';
import { DEFAULT_STALE_AFTER_MS, sweepUnfinishedQuietly } from './unfinished-writes';
import { acquireBackupLock, lockName } from './backup-lock';
import { settleAll } from './settle';
import type { BaseBackupSource, BaseBackupTools } from '../ports/base-backup';
import { waitUntilFinal } from './wait';

export type { BaseBackupTools } from '../ports/base-backup';

/** What a base backup needs: the same outside systems as a logical backup, and PostgreSQL's base backup tools. */
export interface BaseBackupDeps {
  storage: Storage;
  catalog: Catalog;
  alerts: AlertPublisher;
  log: Log;
  tools: BaseBackupTools;
  clock: Clock;
  /** Strongbox's version, recorded in the manifest. */
  version: string;
  /** How often the task proves it is alive (default 30 s). */
  heartbeatMs?: number;
  /** A RUNNING backup silent for longer is dead (default 10 min). */
  staleAfterMs?: number;
  /** Local mode: tells whether a lock's holder process on this host is alive (taken over at once when not). */
  processes?: ProcessProbe;
}

/** One base backup to take. */
export interface BaseBackupRequest {
  /** Strongbox's name of the database whose cluster is backed up. */
  database: string;
  connection: PgConnection;
  tier: Tier;
  compression: BaseCompression;
  /** Set when the scheduler created the RUNNING entry before launching this task. */
  backupId?: string;
  /** Where this runs (`pid:N`, a task ARN). */
  runner: string;
  signal?: AbortSignal;
  /** `databaseSizeBytes` is the size on disk of the whole cluster's databases. */
  onProgress?: (progress: BackupProgress) => void;
  /** Return only once the checksum function made the entry VERIFIED or FAILED (default true). */
  waitForVerification?: boolean;
  /** How long to wait for that (default 10 min). */
  verificationTimeoutMs?: number;
}

/**
 * Takes one physical base backup of the cluster behind `request.connection`: pg_basebackup
 * as a tar (with the WAL it needs, `-X fetch`) streamed through zstd and SHA-256 into
 * storage, its WAL range and identity read from the tar itself as it passes, recorded on
 * the catalog entry (kind `base`, lock `base:<database>`) and in the manifest, written last.
 * Returns the final catalog entry.
 *
 * On any failure (REPLICATION_NOT_PERMITTED, BASE_BACKUP_TABLESPACES, DB_*, DUMP_FAILED,
 * STORAGE_FAILED, OBJECT_TOO_LARGE, TAR_INVALID, BASE_BACKUP_INVALID, INTERRUPTED…): pg_basebackup is killed,
 * the stored objects are deleted, the entry becomes FAILED with the reason, an alert is
 * published, and the error is rethrown as a StrongboxError.
 */
export async function runBaseBackup(deps: BaseBackupDeps, request: BaseBackupRequest): Promise<BackupEntry> {
  const startedAt = deps.clock();
  const entry = await openEntry(deps, request, startedAt);
  if (entry.state !== 'RUNNING') {
    deps.log.info('backup already ran: repeated request ignored', { backupId: entry.id, state: entry.state });
    return entry;
  }
  const keys = baseKeys(request, entry.id);
  const abort = new AbortController();
  const stopOnSignal = () => abort.abort(request.signal?.reason);
  request.signal?.addEventListener('abort', stopOnSignal, { once: true });
  if (request.signal?.aborted) stopOnSignal();
  let lockHeld = false;
  let manifestWritten = false;
  const heartbeat = startHeartbeat(deps, entry.id, abort);
  try {
    await acquireBackupLock(deps, { kind: 'base', database: request.database, owner: entry.id, now: deps.clock(), staleAfterMs: deps.staleAfterMs ?? 600_000 });
    lockHeld = true;
    // Backups killed by SIGKILL leave their partial file or upload behind; clear what no live writer owns before adding more.
    await sweepUnfinishedQuietly(deps, { staleAfterMs: deps.staleAfterMs ?? DEFAULT_STALE_AFTER_MS });
    abort.signal.throwIfAborted();
    const source = await deps.tools.inspect(request.connection);
    deps.log.info('base backup started', { backupId: entry.id, database: request.database, tier: request.tier, key: keys.dump, serverVersion: source.serverVersion, systemId: source.systemId });
    const { stored, base, pgBasebackup } = await streamBackup(deps, request, entry.id, keys, source, abort.signal, startedAt);
    if (!base.walIncluded) deps.log.warn('the WAL needed for consistency is not all inside the base backup: restoring it needs the archive', { backupId: entry.id, walSegments: base.walSegments });
    // On the entry before the manifest exists: whichever of us or the checksum function moves it on, it carries the WAL range.
    await deps.catalog.update(entry.id, { base });
    const manifest = buildManifest(deps, request, entry, keys, { stored, base, pgBasebackup, source, startedAt });
    await deps.storage.putBytes(keys.manifest, serializeManifest(manifest), { contentType: 'application/json', signal: abort.signal });
    manifestWritten = true;
    await markUploaded(deps.catalog, entry.id, manifest);
    deps.log.info('base backup uploaded', { backupId: entry.id, bytes: stored.bytes, sha256: stored.sha256, startLsn: base.startLsn, stopLsn: base.stopLsn, timeline: base.timeline, walSegments: base.walSegments });
  } catch (error) {
    const failure = explainFailure(error, request.signal, abort.signal);
    abort.abort(failure);
    await failBackup(deps, entry, keys, failure, manifestWritten);
    throw failure;
  } finally {
    heartbeat.stop();
    request.signal?.removeEventListener('abort', stopOnSignal);
    if (lockHeld) await deps.catalog.releaseLock(lockName('base', request.database), entry.id).catch(() => undefined);
  }
  if (request.waitForVerification === false) return (await deps.catalog.get(entry.id)) ?? entry;
  return waitUntilFinal(deps.catalog, entry.id, { timeoutMs: request.verificationTimeoutMs ?? 600_000 });
}

/** backupKeys names an uncompressed object `dump`, as it does for pg_dump's own gzip. */
function baseKeys(request: BaseBackupRequest, id: string): BackupKeys {
  return backupKeys('base', request.tier, request.database, id, request.compression === 'zstd' ? 'zstd' : 'gzip');
}

async function openEntry(deps: BaseBackupDeps, request: BaseBackupRequest, startedAt: Date): Promise<BackupEntry> {
  if (request.backupId) {
    const existing = await deps.catalog.get(request.backupId);
    if (existing) {
      if (existing.kind !== 'base') throw new InputError(`backup ${existing.id} is a ${existing.kind} backup, not a base backup`, 'the scheduler must create a base backup\'s entry with kind base (an id with -b-)');
      if (existing.state === 'RUNNING') return deps.catalog.update(existing.id, { runner: request.runner, heartbeatAt: startedAt.toISOString() });
      return existing;
    }
  }
  const id = request.backupId ?? backupId('base', startedAt, `${request.database}:${randomUUID()}`);
  const keys = baseKeys(request, id);
  const entry: BackupEntry = {
    id,
    database: request.database,
    kind: 'base',
    tier: request.tier,
    scope: 'full',
    state: 'RUNNING',
    key: keys.dump,
    manifestKey: keys.manifest,
    compression: request.compression,
    startedAt: startedAt.toISOString(),
    heartbeatAt: startedAt.toISOString(),
    runner: request.runner,
  };
  if (!(await deps.catalog.create(entry))) {
    throw new ConflictError(`backup id ${id} already exists in the catalog`, 'run the command again: a new id is drawn each time');
  }
  return entry;
}

/** pg_basebackup → (zstd) → tar observer → (progress) → storage, all exit statuses checked. */
async function streamBackup(
  deps: BaseBackupDeps,
  request: BaseBackupRequest,
  id: string,
  keys: BackupKeys,
  source: BaseBackupSource,
  signal: AbortSignal,
  startedAt: Date,
): Promise<{ stored: WriteResult; base: BaseBackupInfo; pgBasebackup: string }> {
  // An uncompressed tar is the cluster's size: one over the largest object is refused before the server starts a backup.
  const sizeEstimate = objectSizeEstimate(source.clusterSizeBytes, request.compression === 'none');
  if (sizeEstimate > MAX_OBJECT_BYTES) throw new ObjectTooLargeError(sizeEstimate, MAX_OBJECT_BYTES, 'estimate');
  // First, alone: a missing pg_basebackup fails here, before the server starts a backup.
  const pgBasebackup = await deps.tools.toolVersion();
  // The WAL the backup needs (fetched at its end) must outlive any checkpoint a busy server
  // makes meanwhile: a temporary slot keeps it until the backup is done.
  const reservation = await deps.tools.reserveWal?.(request.connection, walSlotName(id));
  if (reservation && 'reason' in reservation) deps.log.warn('base backup without a WAL reservation: a busy server may recycle WAL it needs', { backupId: id, reason: reservation.reason });
  try {
    // The first failure stops the other side: storage gone → pg_basebackup killed, and the reverse.
    const local = new AbortController();
    signal = AbortSignal.any([signal, local.signal]);
    const tool = deps.tools.spawnBaseBackup(request.connection, { compression: request.compression, label: `strongbox-${id}`, signal });
    const observer = deps.tools.observeTar(request.compression);
    const observed = observer.observe(tool.stdout);
    const body = request.onProgress ? withProgress(observed, startedAt, source.clusterSizeBytes, deps.clock, request.onProgress) : observed;
    const upload = deps.storage.putStream(keys.dump, body, { signal, sizeEstimate, contentType: request.compression === 'zstd' ? 'application/zstd' : 'application/x-tar' });
    // The upload cleans up after itself (temporary file, multipart upload): it finishes before a failure is handled.
    const [stored] = await settleAll<[WriteResult, unknown]>([upload, tool.done], (error) => local.abort(error));
    const base = baseBackupInfo(observer.facts(), { pgVersion: Math.floor(source.serverVersionNum / 10_000), expectedSystemId: source.systemId, segmentSize: source.segmentSize });
    return { stored, base, pgBasebackup };
  } finally {
    if (reservation && 'release' in reservation) await reservation.release();
  }
}

/** The temporary slot of backup `id`: lower-case letters, digits and `_`, at most 63 bytes. */
export function walSlotName(id: string): string {
  return `strongbox_${id.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

function buildManifest(
  deps: BaseBackupDeps,
  request: BaseBackupRequest,
  entry: BackupEntry,
  keys: BackupKeys,
  done: { stored: WriteResult; base: BaseBackupInfo; pgBasebackup: string; source: BaseBackupSource; startedAt: Date },
): Manifest {
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id: entry.id,
    database: request.database,
    kind: 'base',
    tier: request.tier,
    scope: 'full',
    compression: request.compression,
    startedAt: done.startedAt.toISOString(),
    finishedAt: deps.clock().toISOString(),
    source: {
      pgDatabase: request.connection.database,
      serverVersion: done.source.serverVersion,
      serverVersionNum: done.source.serverVersionNum,
      systemIdentifier: done.base.systemId,
      walLsn: done.base.startLsn,
      databaseSizeBytes: done.source.clusterSizeBytes,
    },
    tools: { strongbox: deps.version, pgBasebackup: done.pgBasebackup },
    // Row counts would be of some moment during the copy, not of the backup's consistency point.
    tables: [],
    objects: { dump: { key: keys.dump, bytes: done.stored.bytes, sha256: done.stored.sha256 } },
    base: done.base,
  };
}
