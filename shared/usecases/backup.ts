import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { Catalog } from '../ports/catalog';
import type { PgConnection } from '../ports/postgres';
import type { Storage, WriteResult } from '../ports/storage';
import type { BackupEntry, Compression, Tier } from '../domain/backup';
import { backupId, backupKeys, type BackupKeys } from '../domain/keys';
import { objectSizeEstimate } from '../domain/part-plan';
import { exactTablePattern } from '../domain/table-pattern';
import { MANIFEST_FORMAT_VERSION, serializeManifest, type Manifest } from '../domain/manifest';
import { AlreadyRunningError, asStrongboxError, ConflictError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log, ProcessProbe } from '../ports';
import { acquireBackupLock, lockName } from './backup-lock';
import { DEFAULT_STALE_AFTER_MS, sweepUnfinishedQuietly } from './unfinished-writes';
import { settleAll } from './settle';
import type { DumpTools, SnapshotSession } from './dump-tools';
import { waitUntilFinal } from './wait';

export interface BackupDeps {
  storage: Storage;
  catalog: Catalog;
  alerts: AlertPublisher;
  log: Log;
  tools: DumpTools;
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

export interface BackupProgress {
  bytes: number;
  elapsedMs: number;
  /** The database's size on disk: a rough upper bound of the dump's size. */
  databaseSizeBytes: number;
}

export interface BackupRequest {
  database: string;
  connection: PgConnection;
  tier: Tier;
  /** pg_dump `--table` patterns; absent for a full backup. */
  tablePatterns?: string[];
  compression: Compression;
  includeRolePasswords: boolean;
  /** Set when the scheduler created the RUNNING entry before launching this task. */
  backupId?: string;
  /** Where this runs (`pid:N`, a task ARN). */
  runner: string;
  signal?: AbortSignal;
  onProgress?: (progress: BackupProgress) => void;
  /** Return only once the checksum function made the entry VERIFIED or FAILED (default true). */
  waitForVerification?: boolean;
  /** How long to wait for that (default 10 min). */
  verificationTimeoutMs?: number;
  /** How long the counts and pg_dump wait for a table lock before giving up (default 60 s: DEFAULT_LOCK_WAIT_SECONDS). */
  lockWaitSeconds?: number;
}

interface Written {
  dump: WriteResult;
  globals?: WriteResult;
  snapshot: SnapshotSession;
  tables: Manifest['tables'];
  pgDumpVersion: string;
}

/**
 * Takes one logical backup: pg_dump streamed through SHA-256 into storage (no local
 * file), the globals beside it for a full backup, row counts from the dump's own
 * snapshot, and the manifest last. Returns the final catalog entry.
 *
 * On any failure: the dump is killed, the objects already written are deleted (no
 * manifest was written, so nothing ever looked complete), the entry becomes FAILED with
 * the reason, an alert is published, and the error is rethrown as a StrongboxError.
 */
export async function runLogicalBackup(deps: BackupDeps, request: BackupRequest): Promise<BackupEntry> {
  const startedAt = deps.clock();
  const entry = await openEntry(deps, request, startedAt);
  if (entry.state !== 'RUNNING') {
    deps.log.info('backup already ran: repeated request ignored', { backupId: entry.id, state: entry.state });
    return entry;
  }
  const keys = backupKeys('logical', request.tier, request.database, entry.id, request.compression);
  const abort = new AbortController();
  const stopOnSignal = () => abort.abort(request.signal?.reason);
  request.signal?.addEventListener('abort', stopOnSignal, { once: true });
  if (request.signal?.aborted) stopOnSignal();
  let lockHeld = false;
  let manifestWritten = false;
  const heartbeat = startHeartbeat(deps, entry.id, abort);
  try {
    await acquireBackupLock(deps, {
      kind: 'logical',
      database: request.database,
      owner: entry.id,
      now: deps.clock(),
      staleAfterMs: deps.staleAfterMs ?? 600_000,
    });
    lockHeld = true;
    // Backups killed by SIGKILL leave their partial file or upload behind; clear what no live writer owns before adding more.
    await sweepUnfinishedQuietly(deps, { staleAfterMs: deps.staleAfterMs ?? DEFAULT_STALE_AFTER_MS });
    abort.signal.throwIfAborted();
    deps.log.info('backup started', { backupId: entry.id, database: request.database, tier: request.tier, key: keys.dump });
    const written = await writeObjects(deps, request, keys, abort.signal, startedAt);
    const manifest = buildManifest(deps, request, entry, keys, written, startedAt);
    await deps.storage.putBytes(keys.manifest, serializeManifest(manifest), { contentType: 'application/json', signal: abort.signal });
    manifestWritten = true;
    await markUploaded(deps.catalog, entry.id, manifest);
    deps.log.info('backup uploaded', { backupId: entry.id, bytes: written.dump.bytes, sha256: written.dump.sha256 });
  } catch (error) {
    const failure = explainFailure(error, request.signal, abort.signal);
    abort.abort(failure);
    await failBackup(deps, entry, keys, failure, manifestWritten);
    throw failure;
  } finally {
    heartbeat.stop();
    request.signal?.removeEventListener('abort', stopOnSignal);
    if (lockHeld) await deps.catalog.releaseLock(lockName('logical', request.database), entry.id).catch(() => undefined);
  }
  if (request.waitForVerification === false) return (await deps.catalog.get(entry.id)) ?? entry;
  return waitUntilFinal(deps.catalog, entry.id, { timeoutMs: request.verificationTimeoutMs ?? 600_000 });
}

async function openEntry(deps: BackupDeps, request: BackupRequest, startedAt: Date): Promise<BackupEntry> {
  if (request.backupId) {
    const existing = await deps.catalog.get(request.backupId);
    if (existing) {
      if (existing.state === 'RUNNING') return deps.catalog.update(existing.id, { runner: request.runner, heartbeatAt: startedAt.toISOString() });
      return existing;
    }
  }
  const id = request.backupId ?? backupId('logical', startedAt, `${request.database}:${randomUUID()}`);
  const keys = backupKeys('logical', request.tier, request.database, id, request.compression);
  const entry: BackupEntry = {
    id,
    database: request.database,
    kind: 'logical',
    tier: request.tier,
    scope: request.tablePatterns?.length ? 'tables' : 'full',
    ...(request.tablePatterns?.length ? { tables: request.tablePatterns } : {}),
    state: 'RUNNING',
    key: keys.dump,
    manifestKey: keys.manifest,
    ...(request.tablePatterns?.length ? {} : { globalsKey: keys.globals }),
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

async function writeObjects(deps: BackupDeps, request: BackupRequest, keys: BackupKeys, outer: AbortSignal, startedAt: Date): Promise<Written> {
  const snapshot = await deps.tools.openSnapshot(request.connection, { tablePatterns: request.tablePatterns, ...(request.lockWaitSeconds !== undefined ? { lockWaitSeconds: request.lockWaitSeconds } : {}) });
  // The first failure (pg_dump killed, storage gone) stops the other side too: a dump cut short is never moved into place.
  const local = new AbortController();
  const signal = AbortSignal.any([outer, local.signal]);
  const stopOthers = (error: unknown): void => local.abort(error);
  try {
    const dump = deps.tools.spawnPgDump(request.connection, {
      snapshotId: snapshot.snapshotId,
      // The exact tables counted (partitions included: PostgreSQL 15's `pg_dump -t parent`
      // dumps no partition data), so the dump holds what the manifest declares.
      ...(request.tablePatterns?.length ? { tablePatterns: snapshot.tables.map(exactTablePattern) } : {}),
      compression: request.compression,
      signal,
      ...(request.lockWaitSeconds !== undefined ? { lockWaitSeconds: request.lockWaitSeconds } : {}),
    });
    const body = request.onProgress ? withProgress(dump.stdout, startedAt, snapshot.databaseSizeBytes, deps.clock, request.onProgress) : dump.stdout;
    const [dumpResult, , tables, pgDumpVersion] = await settleAll<[WriteResult, unknown, Awaited<ReturnType<typeof snapshot.countRows>>, string]>(
      // The database's size on disk bounds the dump (indexes and bloat are not dumped, the data compressed): parts are planned from it.
      [deps.storage.putStream(keys.dump, body, { signal, sizeEstimate: objectSizeEstimate(snapshot.databaseSizeBytes, false) }), dump.done, snapshot.countRows(signal), deps.tools.toolVersion('pg_dump')],
      stopOthers,
    );
    let globals: WriteResult | undefined;
    if (!request.tablePatterns?.length) {
      const dumpall = deps.tools.spawnPgDumpall(request.connection, { includeRolePasswords: request.includeRolePasswords, signal });
      [globals] = await settleAll<[WriteResult, unknown]>(
        [deps.storage.putStream(keys.globals, dumpall.stdout, { signal, contentType: 'application/sql' }), dumpall.done],
        stopOthers,
      );
    }
    return { dump: dumpResult, ...(globals ? { globals } : {}), snapshot, tables, pgDumpVersion };
  } finally {
    await snapshot.close().catch(() => undefined);
  }
}

/**
 * The error a failed backup reports: a stop request (SIGTERM) or a lost heartbeat explains
 * the error it caused (a killed pg_dump or pg_basebackup) better than that error does.
 */
export function explainFailure(error: unknown, stopRequest: AbortSignal | undefined, heartbeat: AbortSignal): StrongboxError {
  const reason: unknown = stopRequest?.aborted ? stopRequest.reason : heartbeat.aborted ? heartbeat.reason : undefined;
  return asStrongboxError(reason instanceof StrongboxError ? reason : error);
}

/** Reports bytes written as the stream passes (for the terminal's progress line). */
export function withProgress(source: Readable, startedAt: Date, databaseSizeBytes: number, clock: Clock, report: (p: BackupProgress) => void): Readable {
  let bytes = 0;
  const counter = new PassThrough();
  source.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    report({ bytes, elapsedMs: clock().getTime() - startedAt.getTime(), databaseSizeBytes });
  });
  source.on('error', (error) => counter.destroy(error));
  return source.pipe(counter);
}

function buildManifest(deps: BackupDeps, request: BackupRequest, entry: BackupEntry, keys: BackupKeys, written: Written, startedAt: Date): Manifest {
  const { snapshot } = written;
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id: entry.id,
    database: request.database,
    kind: 'logical',
    tier: request.tier,
    scope: entry.scope,
    ...(request.tablePatterns?.length ? { tablePatterns: request.tablePatterns } : {}),
    compression: request.compression,
    startedAt: startedAt.toISOString(),
    finishedAt: deps.clock().toISOString(),
    source: {
      pgDatabase: request.connection.database,
      serverVersion: snapshot.serverVersion,
      serverVersionNum: snapshot.serverVersionNum,
      systemIdentifier: snapshot.systemIdentifier,
      walLsn: snapshot.walLsn,
      databaseSizeBytes: snapshot.databaseSizeBytes,
      ...(snapshot.instant ? { snapshot: snapshot.instant } : {}),
    },
    tools: { strongbox: deps.version, pgDump: written.pgDumpVersion },
    tables: written.tables.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows, ...(t.estimate ? { estimate: true } : {}), ...(t.checksum ? { checksum: t.checksum } : {}) })),
    objects: {
      dump: { key: keys.dump, bytes: written.dump.bytes, sha256: written.dump.sha256 },
      ...(written.globals
        ? { globals: { key: keys.globals, bytes: written.globals.bytes, sha256: written.globals.sha256, includesRolePasswords: request.includeRolePasswords } }
        : {}),
    },
  };
}

/** RUNNING → UPLOADED; the checksum function may already have moved it further, which is fine. */
export async function markUploaded(catalog: Catalog, id: string, manifest: Manifest): Promise<void> {
  const bytes = manifest.objects.dump.bytes + (manifest.objects.globals?.bytes ?? 0);
  try {
    await catalog.transition(id, 'UPLOADED', { bytes, sha256: manifest.objects.dump.sha256, finishedAt: manifest.finishedAt });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
}

/**
 * After a failure: deletes what was written (unless the manifest made it complete), marks
 * the entry FAILED with the reason and code, and publishes a BACKUP_FAILED alert (SEV2) —
 * except for a refusal because another live backup holds the lock (BACKUP_ALREADY_RUNNING),
 * which is logged at WARN only.
 */
export async function failBackup(deps: Pick<BackupDeps, 'storage' | 'catalog' | 'alerts' | 'log' | 'clock'>, entry: BackupEntry, keys: BackupKeys, failure: StrongboxError, manifestWritten: boolean): Promise<void> {
  if (!manifestWritten) {
    await deps.storage.delete([keys.dump, keys.globals, keys.manifest]).catch((error: unknown) =>
      deps.log.error('could not delete the objects of a failed backup', { backupId: entry.id, prefix: keys.prefix, error: String(error) }),
    );
  }
  const finishedAt = deps.clock().toISOString();
  await deps.catalog
    .transition(entry.id, 'FAILED', { reason: failure.message, errorCode: failure.code, finishedAt })
    .catch((error: unknown) => deps.log.error('could not mark the backup FAILED', { backupId: entry.id, error: String(error) }));
  if (failure instanceof AlreadyRunningError) {
    // Refused, not broken: another backup of the database is live and doing the work. A
    // SEV2 on every retry would page for nothing; if that backup never ends VERIFIED, the
    // watchdog (BACKUP_STALLED) and the dead man's switch alert.
    deps.log.warn('backup refused: another backup of the database holds the lock', { backupId: entry.id, database: entry.database, holder: failure.runningId, expiresAt: failure.holder.expiresAt });
    return;
  }
  deps.log.error('backup failed', { backupId: entry.id, database: entry.database, code: failure.code, reason: failure.message });
  await deps.alerts.publish({
    type: 'BACKUP_FAILED',
    severity: 'SEV2',
    message: `backup ${entry.id} of database ${entry.database} failed: ${failure.message}`,
    hint: failure.hint,
    database: entry.database,
    backupId: entry.id,
    code: failure.code,
    at: finishedAt,
  });
}

/** Proves the writer is alive every `heartbeatMs`; aborts when the entry is no longer RUNNING. */
export function startHeartbeat(deps: Pick<BackupDeps, 'catalog' | 'clock' | 'log' | 'heartbeatMs'>, id: string, abort: AbortController): { stop(): void } {
  const timer = setInterval(() => {
    deps.catalog
      .heartbeat(id, deps.clock().toISOString())
      .then((alive) => {
        if (!alive && !abort.signal.aborted) {
          abort.abort(new ConflictError(`backup ${id} is no longer RUNNING in the catalog`, 'the watchdog marked it FAILED (stale heartbeat?); run the backup again'));
        }
      })
      .catch((error: unknown) => deps.log.warn('heartbeat failed', { backupId: id, error: String(error) }));
  }, deps.heartbeatMs ?? 30_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
