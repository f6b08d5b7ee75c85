import { randomUUID } from 'node:crypto';
import type { Catalog } from '../ports/catalog';
import type { PgConnection } from '../ports/postgres';
import type { Storage, WriteResult } from '../ports/storage';
import type { BackupEntry, Compression, Tier } from '../domain/backup';
import { backupId, backupKeys, type BackupKeys } from '../domain/keys';
import { objectSizeEstimate } from '../domain/part-plan';
import { exactTablePattern } from '../domain/table-pattern';
import { MANIFEST_FORMAT_VERSION, serializeManifest, type Manifest } from '../domain/manifest';
import { PARTS_FORMAT_VERSION } from '../domain/manifest-parts';
import { chooseDumpMode } from '../domain/dump-groups';
import { ConflictError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock, Log, ProcessProbe } from '../ports';
import { possiblePartKeys, writeStreamParts, type WrittenPart } from './backup-streams';
import { explainFailure, failBackup, markUploaded, startHeartbeat, withProgress } from './backup-steps';
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
  /** The config's `dumpJobs`: 1 one stream, N > 1 a parallel backup of N data parts (docs/backups.md). */
  dumpJobs?: number;
  /** The vCPU the dump may use (os.availableParallelism() in the task); default 1: one stream unless dumpJobs says otherwise. */
  vcpu?: number;
}

interface Written {
  /** The dump, or a parallel backup's pre-data part. */
  dump: WriteResult;
  /** A parallel backup's data and post-data parts. */
  parts?: WrittenPart[];
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
  /** The parts a parallel backup may write, for the deletion of a failed one. */
  const attempt = { partKeys: [] as string[] };
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
    const written = await writeObjects(deps, request, keys, abort.signal, startedAt, { ...attempt, id: entry.id });
    const manifest = buildManifest(deps, request, entry, keys, written, startedAt);
    await deps.storage.putBytes(keys.manifest, serializeManifest(manifest), { contentType: 'application/json', signal: abort.signal });
    manifestWritten = true;
    await markUploaded(deps.catalog, entry.id, manifest);
    deps.log.info('backup uploaded', { backupId: entry.id, bytes: written.dump.bytes, sha256: written.dump.sha256, ...(written.parts ? { parts: written.parts.length + 1 } : {}) });
  } catch (error) {
    const failure = explainFailure(error, request.signal, abort.signal);
    abort.abort(failure);
    await failBackup(deps, entry, keys, failure, manifestWritten, attempt.partKeys);
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

async function writeObjects(deps: BackupDeps, request: BackupRequest, keys: BackupKeys, outer: AbortSignal, startedAt: Date, attempt: { id: string; partKeys: string[] }): Promise<Written> {
  const snapshot = await deps.tools.openSnapshot(request.connection, { tablePatterns: request.tablePatterns, ...(request.lockWaitSeconds !== undefined ? { lockWaitSeconds: request.lockWaitSeconds } : {}) });
  // The first failure (pg_dump killed, storage gone) stops the other side too: a dump cut short is never moved into place.
  const local = new AbortController();
  const signal = AbortSignal.any([outer, local.signal]);
  const stopOthers = (error: unknown): void => local.abort(error);
  try {
    const mode = chooseDumpMode({
      databaseSizeBytes: snapshot.databaseSizeBytes,
      vcpu: request.vcpu ?? 1,
      scope: request.tablePatterns?.length ? 'tables' : 'full',
      ...(request.dumpJobs !== undefined ? { dumpJobs: request.dumpJobs } : {}),
    });
    deps.log.info('backup mode chosen', { mode: mode.mode, dataParts: mode.dataParts, reason: mode.reason });
    const lock = request.lockWaitSeconds !== undefined ? { lockWaitSeconds: request.lockWaitSeconds } : {};
    let dumped: Promise<{ dump: WriteResult; parts?: WrittenPart[] }>;
    if (mode.mode === 'streams') {
      attempt.partKeys.push(...possiblePartKeys(keys, mode.dataParts, request.compression));
      // Recorded before any part is written: a backup killed meanwhile (FAILED by the watchdog) names every part retention must delete.
      const [preData, ...rest] = attempt.partKeys;
      await deps.catalog.update(attempt.id, { key: preData!, partKeys: rest });
      const onProgress = request.onProgress;
      dumped = writeStreamParts(deps, {
        connection: request.connection, snapshot, keys, compression: request.compression, dataParts: mode.dataParts, signal, ...lock,
        ...(onProgress ? { onBytes: (bytes: number) => onProgress({ bytes, elapsedMs: deps.clock().getTime() - startedAt.getTime(), databaseSizeBytes: snapshot.databaseSizeBytes }) } : {}),
      }).then(([pre, ...parts]) => ({ dump: pre!.write, parts }));
    } else {
      dumped = dumpOneStream(deps, request, keys, snapshot, signal, startedAt, stopOthers);
    }
    const [result, tables, pgDumpVersion] = await settleAll<[{ dump: WriteResult; parts?: WrittenPart[] }, Awaited<ReturnType<typeof snapshot.countRows>>, string]>(
      [dumped, snapshot.countRows(signal), deps.tools.toolVersion('pg_dump')],
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
    return { ...result, ...(globals ? { globals } : {}), snapshot, tables, pgDumpVersion };
  } finally {
    await snapshot.close().catch(() => undefined);
  }
}

/** One `pg_dump -Fc` stream into the `dump` object. */
async function dumpOneStream(
  deps: BackupDeps,
  request: BackupRequest,
  keys: BackupKeys,
  snapshot: SnapshotSession,
  signal: AbortSignal,
  startedAt: Date,
  stopOthers: (error: unknown) => void,
): Promise<{ dump: WriteResult }> {
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
  const [write] = await settleAll<[WriteResult, unknown]>(
    // The database's size on disk bounds the dump (indexes and bloat are not dumped, the data compressed): parts are planned from it.
    [deps.storage.putStream(keys.dump, body, { signal, sizeEstimate: objectSizeEstimate(snapshot.databaseSizeBytes, false) }), dump.done],
    stopOthers,
  );
  return { dump: write };
}

function buildManifest(deps: BackupDeps, request: BackupRequest, entry: BackupEntry, keys: BackupKeys, written: Written, startedAt: Date): Manifest {
  const { snapshot } = written;
  const dumpKey = written.parts ? written.dump.key : keys.dump;
  return {
    formatVersion: written.parts ? PARTS_FORMAT_VERSION : MANIFEST_FORMAT_VERSION,
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
      dump: { key: dumpKey, bytes: written.dump.bytes, sha256: written.dump.sha256 },
      ...(written.parts ? { parts: written.parts.map(manifestPart) } : {}),
      ...(written.globals
        ? { globals: { key: keys.globals, bytes: written.globals.bytes, sha256: written.globals.sha256, includesRolePasswords: request.includeRolePasswords } }
        : {}),
    },
  };
}


/** A written part as the manifest declares it. */
function manifestPart(part: WrittenPart): NonNullable<Manifest['objects']['parts']>[number] {
  if (part.section === 'pre-data') throw new StrongboxError('UNEXPECTED', 'the pre-data part is the manifest\'s dump, not one of its parts', 'report this as a bug');
  return {
    section: part.section,
    key: part.write.key,
    bytes: part.write.bytes,
    sha256: part.write.sha256,
    ...(part.tables ? { tables: part.tables.map(({ schema, name }) => ({ schema, name })) } : {}),
    ...(part.rest ? { rest: true } : {}),
  };
}

export { explainFailure, failBackup, markUploaded, startHeartbeat, withProgress } from './backup-steps';
