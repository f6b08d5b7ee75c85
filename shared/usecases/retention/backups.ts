/**
 * Applies the plan's backup decisions: deletions (catalog mark first, then the manifest
 * alone, then the data, then the entry), Object Lock checks, and local cold moves.
 */
import type { Catalog } from '../../ports/catalog';
import { hasColdArea, isLocked, type Storage } from '../../ports/storage';
import type { BackupEntry } from '../../domain/backup';
import type { RetentionDecision, RetentionPlan } from '../../domain/retention';
import type { Clock, Log } from '../../ports';
import type { RetentionItem, RetentionReport } from './report';
import { item } from './report';

export interface BackupDeps {
  storage: Storage;
  catalog: Catalog;
  log: Log;
  clock: Clock;
}

/**
 * The backup's objects in deletion order: the manifest first, alone, then the data.
 * Writes put the manifest last, so "has a manifest" means "complete"; deleting it first
 * keeps that true. A crash in between leaves data without a manifest, which
 * `catalog rebuild` reports as an incomplete folder and never indexes; the other order
 * would leave a manifest over missing data, which a rebuild would resurrect as a backup.
 * A parallel backup's data is its pre-data part (`key`) and every other part (`partKeys`).
 */
export function objectBatches(entry: BackupEntry): [string[], string[]] {
  return [[entry.manifestKey], [entry.key, ...(entry.globalsKey ? [entry.globalsKey] : []), ...(entry.partKeys ?? [])]];
}

/** Size of the backup's objects and, when Object Lock holds any of them, until when. */
export interface Inspection {
  bytes: number;
  lock?: { retainUntil?: string; legalHold?: boolean };
}

/** Heads every object of the backup: its size, and whether Object Lock forbids deleting it at `now`. */
export async function inspect(storage: Storage, entry: BackupEntry, now: Date): Promise<Inspection> {
  const infos = await Promise.all(objectBatches(entry).flat().map((key) => storage.head(key)));
  const bytes = infos.reduce((sum, info) => sum + (info?.size ?? 0), 0);
  const locked = infos.filter((info) => isLocked(info, now));
  if (locked.length === 0) return { bytes };
  const until = locked.map((info) => info!.retainUntil?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0);
  return { bytes, lock: { ...(until > 0 ? { retainUntil: new Date(until).toISOString() } : {}), ...(locked.some((info) => info!.legalHold) ? { legalHold: true } : {}) } };
}

/** The report line of a backup Object Lock keeps. */
export function lockedItem(decision: RetentionDecision, lock: NonNullable<Inspection['lock']>): RetentionReport['locked'][number] {
  const when = lock.legalHold ? 'a legal hold' : `Object Lock until ${lock.retainUntil ?? '?'}`;
  return { ...item(decision), rule: 'OBJECT_LOCKED', reason: `${decision.reason}; kept: ${when} forbids deleting it yet`, ...lock };
}

/** Catalog first (the mark), then the objects, then the entry. Returns the bytes freed. */
export async function deleteBackup(deps: BackupDeps, decision: RetentionDecision, bytes: number): Promise<number> {
  let entry = decision.entry;
  if (!entry.deleting) {
    entry = await deps.catalog.markDeleting(entry.id, entry.state, { at: deps.clock().toISOString(), rule: decision.rule });
    deps.log.info('backup marked for deletion', { backupId: entry.id, database: entry.database, rule: decision.rule });
  }
  const [manifest, data] = objectBatches(entry);
  await deps.storage.delete(manifest);
  await deps.storage.delete(data);
  await deps.catalog.remove(entry.id);
  deps.log.info('backup deleted by retention', { backupId: entry.id, database: entry.database, tier: entry.tier, rule: decision.rule, bytes });
  return bytes;
}

/**
 * Moves a cold backup's objects into the repository folder's cold area (data first, the
 * manifest last), unless they are there already. Returns true when something moved; false
 * on S3, where the bucket's lifecycle rule moves them.
 */
export async function moveCold(deps: BackupDeps, decision: RetentionDecision): Promise<boolean> {
  const storage = deps.storage;
  if (!hasColdArea(storage)) return false;
  const [manifest, data] = objectBatches(decision.entry);
  const infos = await Promise.all([...data, ...manifest].map(async (key) => ({ key, info: await storage.head(key) })));
  const hot = infos.filter(({ info }) => info !== undefined && !info.cold).map(({ key }) => key);
  if (hot.length === 0) return false;
  await storage.moveToCold(hot);
  deps.log.info('backup moved to cold storage', { backupId: decision.id, database: decision.database, tier: decision.tier, rule: decision.rule, keys: hot.length });
  return true;
}

/** A backup the plan relies on, and what it is to the plan (for the reason of a hold). */
export interface ReliedOn {
  id: string;
  role: string;
}

/**
 * Why a database's deletions must wait: a backup the plan relies on (its newest VERIFIED
 * logical backup, or a base backup the PITR window starts from) is no longer VERIFIED and
 * unmarked. Undefined when all is as planned.
 */
export async function reliedOnChanged(catalog: Catalog, backups: readonly ReliedOn[]): Promise<string | undefined> {
  for (const { id, role } of backups) {
    const current = await catalog.get(id);
    if (current?.state === 'VERIFIED' && !current.deleting) continue;
    return `the ${role} ${id} changed since the plan (${current ? current.state : 'gone'}): run retention again`;
  }
  return undefined;
}

/** The backups a database's deletions rely on. */
export function reliedOn(plan: RetentionPlan, database: string): ReliedOn[] {
  const newest = plan.newestVerified.filter((candidate) => candidate.database === database).map((candidate) => ({ id: candidate.id, role: 'newest VERIFIED backup' }));
  const anchors = [...new Set(plan.wal.filter((decision) => decision.database === database).flatMap((decision) => decision.anchors))].map((id) => ({ id, role: 'base backup the PITR window starts from' }));
  return [...newest, ...anchors];
}

export type { RetentionItem };
