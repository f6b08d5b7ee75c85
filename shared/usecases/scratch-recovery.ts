/**
 * A scratch cluster recovered from the archive to a point (an LSN, a time, a restore point):
 * the base backup the plan chooses unpacked (SHA-256 checked on the way) into a new folder,
 * the archive's WAL replayed up to the target, and the server left PAUSED there as a hot
 * standby that can be read — and moved on to a later target, or promoted. It listens on a
 * private Unix socket only, archives nothing, and is thrown away with remove().
 *
 * Used by the physical drill (`validate --pitr`) and by `restore-table --time` (a table as it
 * was): both need the data as of one exact point, never the target server.
 */
import { chmod, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PgConnection } from '../ports/postgres';
import type { ScratchServer, ScratchSocket } from '../ports/scratch';
import type { BackupEntry } from '../domain/backup';
import type { PitrPlan } from '../domain/wal/pitr-plan';
import { recoveryTargetSettings, type PitrTarget } from '../domain/wal/pitr-target';
import { asStrongboxError, StrongboxError } from '../errors';
import type { AlertPublisher, Clock } from '../ports';
import { markBackupDamaged, provesDamage } from './backup-damaged';
import { planRecovery, type PitrDeps } from './pitr';

export type { ScratchServer, ScratchSocket } from '../ports/scratch';

/** What a scratch recovery needs. */
export interface ScratchRecoveryDeps extends PitrDeps {
  server: ScratchServer;
  alerts: AlertPublisher;
  clock: Clock;
}

/** Where to recover to, and how. */
export interface ScratchRecoveryRequest {
  /** Strongbox's name of the database whose archive is read. */
  database: string;
  target: PitrTarget;
  /** Stop just before the target (recovery_target_inclusive = false). */
  exclusive: boolean;
  timeline?: number;
  /** A folder the server's OS user can traverse; the scratch gets a new `strongbox-scratch-*` folder in it. */
  parentDir: string;
  /** Strongbox's wal-fetch for `database` (`… %f %p`). */
  restoreCommand: string;
  /** A role of the recovered cluster (its superuser, usually postgres): the scratch trusts it on its socket. */
  user?: string;
  /** A second role to ask as when `user` does not exist there (e.g. the target's user). */
  fallbackUser?: string;
  /** fsync off: acceptable for a copy that is thrown away (default true). */
  fast?: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The replayed LSN, while replaying. */
  onReplay?: (lsn: string) => void;
  /**
   * Starts fetching WAL ahead before the server asks for any (the WAL prefetcher's warm start,
   * shared/local/warm-wal.ts), given the first segment recovery will read: called as the base
   * backup begins to unpack, so that the first segments are ready when replay starts. Best
   * effort: a failure is logged and recovery fetches as usual.
   */
  warmWal?: (firstSegment: string) => Promise<void>;
}

/** A recovered scratch, paused at its target (promoted already when the target was `latest`). */
export interface ScratchRecovery {
  plan: PitrPlan;
  /** The base backup it was recovered from. */
  base: BackupEntry;
  dataDir: string;
  socket: ScratchSocket;
  /** The role that logged in (`user`, or `fallbackUser` when the cluster lacks it). */
  user: string;
  /** The server's bin folder (of the base backup's major). */
  binDir: string;
  /** Seconds to download, check and unpack the base backup. */
  fetchSeconds: number;
  /** Seconds from the server's start to its pause at the target (WAL fetched and replayed). */
  replaySeconds: number;
  /** The connection to `database` on the scratch (trusted over its private socket; no password). */
  connection(database: string): PgConnection;
  /** Replays on to a later target and pauses there again; returns the seconds it took. */
  advanceTo(target: PitrTarget, exclusive: boolean): Promise<number>;
  /** Ends recovery: the scratch becomes writable (on a new timeline it never archives). */
  promote(): Promise<void>;
  /** Stops the server and deletes its folders. Never throws: returns what could not be removed. */
  remove(): Promise<string | undefined>;
}

/**
 * Plans from the catalog (planRecovery: the base backup before the target, WAL continuity,
 * the WAL in storage), unpacks, starts and waits for the pause at the target. Whatever
 * fails after the folder exists removes the scratch before the error is thrown. A base backup
 * whose bytes prove damaged becomes FAILED with an alert (as in runPitr).
 *
 * @throws what planRecovery throws (nothing is written then); PG_VERSION_MISMATCH when the
 *   server of the base backup's major is not installed (nothing is written then); CHECKSUM_MISMATCH /
 *   OBJECT_NOT_FOUND for a damaged base backup; RECOVERY_FAILED when replay stops before the
 *   target (a damaged or missing segment) or times out; the signal's reason.
 */
export async function recoverScratch(deps: ScratchRecoveryDeps, request: ScratchRecoveryRequest): Promise<ScratchRecovery> {
  const { plan, entry } = await planRecovery(deps, request.database, request.target, request.timeline);
  const timeline = plan.timelines.at(-1)!;
  const binDir = await deps.server.serverBinDir(entry.base?.pgVersion);
  const folder = await mkdtemp(join(request.parentDir, 'strongbox-scratch-'));
  await chmod(folder, 0o755);
  const dataDir = join(folder, 'data');
  let socketDir: string | undefined;
  const removeAll = async (): Promise<string | undefined> => {
    try {
      await deps.server.destroyScratch(dataDir, socketDir ?? folder, folder, binDir);
      return undefined;
    } catch (error) {
      return `the scratch recovery in ${dataDir} could not be removed (${error instanceof Error ? error.message : String(error)}): stop it with pg_ctl -D ${dataDir} stop -m immediate, then delete ${folder}`;
    }
  };
  try {
    socketDir = await deps.server.prepareSocketDir();
    const socket: ScratchSocket = { socketDir, port: await deps.server.freePort() };
    const users = [...new Set([request.user ?? 'postgres', ...(request.fallbackUser ? [request.fallbackUser] : [])])];
    deps.log.info('scratch recovery planned', { database: request.database, base: plan.base.id, target: plan.target, wal: plan.wal, binDir });
    const fetchStarted = performance.now();
    const warming = request.warmWal?.(plan.wal.first).catch((error: unknown) => deps.log.warn('WAL not fetched ahead of recovery: it is fetched as asked', { database: request.database, error: error instanceof Error ? error.message : String(error) }));
    await deps.server.prepareEmptyDataDir(dataDir);
    await unpack(deps, entry, dataDir);
    await warming;
    const fetchSeconds = (performance.now() - fetchStarted) / 1000;
    await deps.server.restrictToSocket(dataDir);
    await deps.server.writeRecoveryConfig(dataDir, {
      ...recoveryTargetSettings(request.target, request.exclusive, timeline),
      restore_command: request.restoreCommand,
      ...deps.server.scratchSettings(socket, request.fast ?? true),
    });
    // `latest` has no target to pause at: recovery ends with the archive and promotes.
    const started = await deps.server.startPaused({ dataDir, socket, users, binDir, promotedIsDone: request.target.type === 'latest', timeoutMs: request.timeoutMs, ...(request.signal ? { signal: request.signal } : {}), ...(request.onReplay ? { onReplay: request.onReplay } : {}) });
    deps.log.info('scratch recovery paused at its target', { database: request.database, target: plan.target, fetchSeconds, replaySeconds: started.seconds });
    const user = started.user;
    return {
      plan,
      base: entry,
      dataDir,
      socket,
      user,
      binDir,
      fetchSeconds,
      replaySeconds: started.seconds,
      connection: (database) => ({ host: socket.socketDir, port: socket.port, user, database }),
      async advanceTo(target, exclusive) {
        // The earlier target's lines are replaced (resumeTo): PostgreSQL refuses two kinds at once.
        const settings = { ...recoveryTargetSettings(target, exclusive, timeline), recovery_target_action: 'pause' };
        const moved = await deps.server.resumeTo({ dataDir, socket, users: [user], binDir, timeoutMs: request.timeoutMs, ...(request.signal ? { signal: request.signal } : {}), settings });
        return moved.seconds;
      },
      promote: () => deps.server.promoteScratch({ host: socket.socketDir, port: socket.port, user, database: 'template1' }),
      remove: removeAll,
    };
  } catch (error) {
    const left = await removeAll();
    if (left) deps.log.error('scratch recovery not removed', { problem: left });
    throw error;
  }
}

async function unpack(deps: ScratchRecoveryDeps, entry: BackupEntry, dataDir: string): Promise<void> {
  try {
    const body = await deps.storage.get(entry.key);
    await deps.server.unpackBaseBackup({ body, compression: entry.compression === 'zstd' ? 'zstd' : 'none', dataDir, key: entry.key, sha256: entry.sha256 ?? '', backupId: entry.id, ...(entry.bytes !== undefined ? { bytes: entry.bytes } : {}) });
  } catch (error) {
    const failure = asStrongboxError(error);
    if (!provesDamage(failure)) throw failure;
    await markBackupDamaged(deps, entry, failure, 'at a scratch recovery');
    throw new StrongboxError(failure.code, failure.message, `${failure.hint}. It is now FAILED: run again and the plan takes an older base backup, if one reaches the target`, { cause: failure });
  }
}
