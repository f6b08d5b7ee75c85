import type { Catalog } from '../ports/catalog';
import { hasUnfinishedWrites, type Storage, type UnfinishedWrite } from '../ports/storage';
import type { BackupEntry } from '../domain/backup';
import { parseLocalRunner } from '../domain/backup-lock';
import { BACKUP_PREFIXES, backupIdOfKey } from '../domain/keys';
import { judgeUnfinishedWrite, type UnfinishedRule } from '../domain/unfinished-writes';
import { asStrongboxError } from '../errors';
import type { Clock, Log, ProcessProbe } from '../ports';

/** The default bound past which a silent writer is dead (the watchdog's, `staleAfterSeconds`). */
export const DEFAULT_STALE_AFTER_MS = 600_000;

/** How one sweep is bounded and where it looks. */
export interface SweepOptions {
  /** A writer silent for longer is dead (default 10 min, the watchdog's bound). */
  staleAfterMs?: number;
  /** Judge and report only. */
  dryRun?: boolean;
  /**
   * Key prefixes to list; default the backups' (`logical/`, `base/`), so that S3 is asked
   * only there (ListMultipartUploads granted on those prefixes). `['']`: every unfinished
   * write, e.g. the repository folder's whole `.tmp/` at start-up (temporary files of WAL
   * segments and records a killed `npm start` left too, judged by their writer and silence).
   */
  prefixes?: readonly string[];
}

export interface UnfinishedWritesDeps {
  storage: Storage;
  catalog: Catalog;
  log: Log;
  clock: Clock;
  /** Local mode: whether processes on this host are alive (a dead writer is known at once). */
  processes?: ProcessProbe;
}

/** One unfinished write the sweep discarded (in a dry run: would discard). */
export interface DiscardedWrite {
  key?: string;
  backupId?: string;
  rule: UnfinishedRule;
  reason: string;
  /** Bytes it held, when the storage knows (the repository folder). */
  bytes?: number;
}

/** What one sweep did. */
export interface UnfinishedSweep {
  discarded: DiscardedWrite[];
  /** Writes left alone: a live writer's, or too recent to judge. */
  kept: number;
  /** Sum of the discarded writes' known sizes. */
  bytes: number;
  /** Discards that failed (logged; the next sweep tries again). */
  failed: number;
}

/**
 * Removes the unfinished writes no live writer owns: the temporary files a killed backup
 * left in the repository folder's `.tmp/`, the multipart uploads a killed task left in S3.
 * Each write is judged by judgeUnfinishedWrite from its backup's catalog entry (the backup
 * id is in its key), whether its writer's or its runner's process on this host is alive,
 * and its age against `staleAfterMs`; every decision to discard is logged at INFO with its
 * rule and reason. A write a live backup is writing is never touched.
 *
 * Reads the storage's listing page by page and one catalog entry per backup met; memory
 * grows with the number of backups that have unfinished writes, not with their size. A
 * storage without the capability sweeps nothing. `dryRun`: judges and reports only.
 * Throws StorageError or CatalogError when a listing or a read fails; a failed discard is
 * logged and counted, and the sweep goes on.
 */
export async function sweepUnfinishedWrites(deps: UnfinishedWritesDeps, options: SweepOptions = {}): Promise<UnfinishedSweep> {
  const sweep: UnfinishedSweep = { discarded: [], kept: 0, bytes: 0, failed: 0 };
  const { storage } = deps;
  if (!hasUnfinishedWrites(storage)) return sweep;
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const entries = new Map<string, BackupEntry | undefined>();
  const entryOf = async (id: string): Promise<BackupEntry | undefined> => {
    if (!entries.has(id)) entries.set(id, await deps.catalog.get(id));
    return entries.get(id);
  };
  for (const prefix of options.prefixes ?? BACKUP_PREFIXES) {
    for await (const write of storage.listUnfinished(prefix)) {
      const backupId = write.key === undefined ? undefined : backupIdOfKey(write.key);
      const entry = backupId === undefined ? undefined : await entryOf(backupId);
      const verdict = judgeUnfinishedWrite(
        {
          ...(backupId !== undefined ? { backupId } : {}),
          ...(entry ? { entry } : {}),
          ...optional('writerAlive', aliveOnThisHost(write.writer, deps.processes)),
          ...optional('runnerAlive', aliveOnThisHost(parseLocalRunner(entry?.runner), deps.processes)),
          ...optional('lastWriteAt', write.lastWriteAt),
          ...optional('startedAt', write.startedAt),
        },
        { now: deps.clock(), staleAfterMs },
      );
      const attributes = { key: write.key ?? '(unknown)', backupId, rule: verdict.rule, reason: verdict.reason, bytes: write.bytes, dryRun: options.dryRun ?? false };
      if (verdict.action === 'keep') {
        sweep.kept += 1;
        deps.log.info('unfinished write kept', attributes);
        continue;
      }
      if (!options.dryRun && !(await discard(deps, storage, write, attributes))) {
        sweep.failed += 1;
        continue;
      }
      deps.log.info('unfinished write discarded', attributes);
      sweep.discarded.push({ ...optional('key', write.key), ...optional('backupId', backupId), rule: verdict.rule, reason: verdict.reason, ...optional('bytes', write.bytes) });
      sweep.bytes += write.bytes ?? 0;
    }
  }
  return sweep;
}

/**
 * As sweepUnfinishedWrites, for callers whose own work must not fail because of it (before a
 * backup, at start-up): an error is logged at WARN and an empty sweep returned.
 */
export async function sweepUnfinishedQuietly(deps: UnfinishedWritesDeps, options: SweepOptions = {}): Promise<UnfinishedSweep> {
  try {
    return await sweepUnfinishedWrites(deps, options);
  } catch (error) {
    const failure = asStrongboxError(error);
    deps.log.warn('could not sweep unfinished writes; the next sweep tries again', { code: failure.code, reason: failure.message, hint: failure.hint });
    return { discarded: [], kept: 0, bytes: 0, failed: 0 };
  }
}

async function discard(deps: UnfinishedWritesDeps, storage: Storage & { discardUnfinished(write: UnfinishedWrite): Promise<void> }, write: UnfinishedWrite, attributes: Record<string, unknown>): Promise<boolean> {
  try {
    await storage.discardUnfinished(write);
    return true;
  } catch (error) {
    const failure = asStrongboxError(error);
    deps.log.error('could not discard an unfinished write', { ...attributes, code: failure.code, error: failure.message });
    return false;
  }
}

/** Whether a process on this host is alive; undefined when it is elsewhere or unknown. */
function aliveOnThisHost(process: { pid: number; host: string } | undefined, probe: ProcessProbe | undefined): boolean | undefined {
  if (!process || !probe || process.host !== probe.hostname) return undefined;
  return probe.isAlive(process.pid);
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}
