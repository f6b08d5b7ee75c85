import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../ports/catalog';
import { MAX_REPORTED_GAPS, type ArchiveStatus, type RestorePoint, type WalCatalog } from '../ports/wal-catalog';
import type { ArchiverStats, WalPosition, WalServer } from '../ports/wal-server';
import type { PgConnection } from '../ports/postgres';
import { archiveLagAlertType, ARCHIVE_LAG_WARNING_SECONDS } from '../domain/alerts/archive-lag';
import { ALERT_TYPES } from '../domain/alerts/registry';
import { RPO_SECONDS } from '../domain/wal/doctor';
import { asStrongboxError } from '../errors';
import type { Alert, AlertPublisher, Clock, Log, Severity } from '../ports';
import { archivedPast } from './doctor';
import { createNamedRestorePoint } from './restore-point';
import { findArchiveGap, type GapCheck } from './wal-gap';

export interface WalCheckpointDeps {
  walCatalog: WalCatalog;
  /** The backup catalog: where the newest VERIFIED base backup is found. */
  catalog: Catalog;
  server: WalServer;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  /** The text of a timeline's history file, when the archive has it (needed only across a timeline switch). */
  readHistory?: (database: string, timeline: number) => Promise<string | undefined>;
}

export interface WalCheckpointRequest {
  database: string;
  connection: PgConnection;
  /** How long to wait for the switched segment to be archived. */
  waitMs: number;
  /** Poll interval of that wait (default 1 s). */
  pollMs?: number;
  /** The promised RPO (default 300 s). */
  rpoSeconds?: number;
  /** How long the catalog may take to index a just-archived segment before it counts as missing (default 5 s). */
  indexGraceMs?: number;
}

export interface WalCheckpointResult {
  database: string;
  switched: WalPosition & { at: string };
  /** Absent when it could not be created (see `warnings`). */
  restorePoint?: RestorePoint;
  /** The switched segment was archived within the wait. */
  archived: boolean;
  /** Seconds from the switch to pg_stat_archiver showing it archived: the measured RPO. */
  lagSeconds?: number;
  archiver: ArchiverStats;
  gap: GapCheck;
  /** Types of the alerts published. */
  alerts: string[];
  warnings: string[];
  status: ArchiveStatus;
}

/** `strongbox-20261124T031500Z` for 2026-11-24T03:15:00.123Z. */
export function checkpointPointName(at: Date): string {
  return `strongbox-${at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}`;
}

const GIVE_UP_FAILURES = 3;

/**
 * The 15-minute WAL checkpoint of one database: a named restore point, then a WAL switch
 * (so the point is in a segment archived now, not at the next switch); a bounded wait for
 * the archiver to archive that segment, which measures the archive lag (the RPO as it
 * is); then the alerts — archiving failing (SEV2 ARCHIVE_FAILING), a hole in the archive
 * since the newest VERIFIED base backup (SEV2 WAL_GAP), the lag over the RPO (SEV2
 * ARCHIVE_LAG) — and the measured status stored in the WAL catalog.
 *
 * @throws what the server or the catalogs throw when the switch, the archiver read or the
 *   status write fails (a SEV2 WAL_CHECKPOINT_FAILED alert is published first).
 */
export async function runWalCheckpoint(deps: WalCheckpointDeps, request: WalCheckpointRequest): Promise<WalCheckpointResult> {
  const { database } = request;
  try {
    return await checkpoint(deps, request);
  } catch (error) {
    const failure = asStrongboxError(error);
    deps.log.error('WAL checkpoint failed', { database, code: failure.code, reason: failure.message });
    await deps.alerts.publish({
      type: 'WAL_CHECKPOINT_FAILED',
      severity: 'SEV2',
      message: `the WAL checkpoint of ${database} failed: ${failure.message}`,
      hint: failure.hint,
      database,
      code: failure.code,
      at: deps.clock().toISOString(),
    });
    throw failure;
  }
}

async function checkpoint(deps: WalCheckpointDeps, request: WalCheckpointRequest): Promise<WalCheckpointResult> {
  const { database, connection } = request;
  const rpo = request.rpoSeconds ?? RPO_SECONDS;
  const warnings: string[] = [];
  const published: string[] = [];
  const alert = async (fields: Omit<Alert, 'at' | 'database' | 'severity'>, severity: Severity = 'SEV2') => {
    published.push(fields.type);
    deps.log.warn('WAL checkpoint alert', { database, type: fields.type, message: fields.message });
    await deps.alerts.publish({ ...fields, severity, database, at: deps.clock().toISOString() });
  };

  const startedAt = deps.clock();
  let restorePoint: RestorePoint | undefined;
  try {
    restorePoint = await createNamedRestorePoint({ ...deps, server: deps.server }, { database, connection, name: checkpointPointName(startedAt) });
  } catch (error) {
    const failure = asStrongboxError(error);
    warnings.push(`no restore point: ${failure.message}`);
    deps.log.warn('WAL checkpoint made no restore point', { database, code: failure.code, reason: failure.message });
  }
  const settings = await deps.server.readArchiveSettings(connection);
  const failuresBefore = (await deps.server.readArchiver(connection)).failedCount;
  const switchedAt = deps.clock();
  const switched = await deps.server.switchWal(connection);
  deps.log.info('WAL switched', { database, segment: switched.segment, lsn: switched.lsn });

  const { archived, stats, lagSeconds } = await waitArchived(deps, request, switched.segment, switchedAt.getTime(), failuresBefore);
  if (archived) deps.log.info('switched segment archived', { database, segment: switched.segment, lagSeconds });
  else warnings.push(`${switched.segment} was not archived within ${Math.round(request.waitMs / 1000)} s`);

  if (stats.failedCount > 0 && stats.lastFailedAt !== undefined && (stats.lastArchivedAt === undefined || stats.lastFailedAt > stats.lastArchivedAt)) {
    await alert({
      type: 'ARCHIVE_FAILING',
      message: `WAL archiving of ${database} is failing: ${stats.failedCount} failures, the last on ${stats.lastFailedWal ?? '?'} at ${stats.lastFailedAt}, after the last success (${stats.lastArchivedWal ?? 'none'})`,
      hint: 'read the PostgreSQL log for the wal-push error and fix it before pg_wal fills the disk (WAL piles up there until it is archived); `strongbox doctor` checks the whole chain',
      code: 'ARCHIVE_FAILING',
    });
  }

  const now = deps.clock();
  const stalledSeconds = stats.lastArchivedAt !== undefined ? (now.getTime() - Date.parse(stats.lastArchivedAt)) / 1000 : undefined;
  const lagLevel = archiveLagAlertType(lagSeconds, { rpoSeconds: rpo });
  if (lagLevel === 'ARCHIVE_LAG' || (!archived && stalledSeconds !== undefined && stalledSeconds > rpo)) {
    await alert({
      type: 'ARCHIVE_LAG',
      message:
        lagSeconds !== undefined
          ? `WAL of ${database} took ${lagSeconds.toFixed(0)} s to be archived, over the ${rpo} s RPO`
          : `nothing of ${database} was archived for ${stalledSeconds!.toFixed(0)} s while ${switched.segment} waits: over the ${rpo} s RPO`,
      hint: 'the archive endpoint may be slow or down, or the host saturated: check `strongbox doctor` and the wal-push log',
      code: 'ARCHIVE_LAG',
    });
  } else if (lagLevel === 'ARCHIVE_LAG_WARNING') {
    await alert(
      {
        type: 'ARCHIVE_LAG_WARNING',
        message: `WAL of ${database} took ${lagSeconds!.toFixed(0)} s to be archived: over ${ARCHIVE_LAG_WARNING_SECONDS} s, still within the ${rpo} s RPO`,
        hint: 'archiving is falling behind: check the archive endpoint, the host load and archive_timeout before the lag reaches the RPO',
        code: 'ARCHIVE_LAG_WARNING',
      },
      ALERT_TYPES.ARCHIVE_LAG_WARNING.severity,
    );
  }

  const gap = await findArchiveGap(deps, {
    database,
    switched,
    segmentSize: settings.walSegmentSize,
    ...(stats.lastArchivedWal ? { archivedThrough: stats.lastArchivedWal } : {}),
    ...(request.indexGraceMs !== undefined ? { graceMs: request.indexGraceMs } : {}),
  });
  if (gap.missingCount > 0) {
    await alert({
      type: 'WAL_GAP',
      message: `the WAL archive of ${database} lacks ${gap.missingCount} segment(s) since base backup ${gap.baseBackupId}: ${gap.described}`,
      hint: 'point-in-time recovery cannot cross the gap: take a new base backup now; restores to points before the gap still work',
      code: 'WAL_GAP',
    });
  }
  warnings.push(...gap.warnings);

  const status: ArchiveStatus = {
    measuredAt: now.toISOString(),
    ...(stats.lastArchivedWal ? { lastArchivedWal: stats.lastArchivedWal } : {}),
    ...(stats.lastArchivedAt ? { lastArchivedAt: stats.lastArchivedAt } : {}),
    ...(lagSeconds !== undefined ? { lagSeconds } : {}),
    failedCount: stats.failedCount,
    ...(stats.lastFailedWal ? { lastFailedWal: stats.lastFailedWal } : {}),
    ...(stats.lastFailedAt ? { lastFailedAt: stats.lastFailedAt } : {}),
    gaps: gap.missing.slice(0, MAX_REPORTED_GAPS),
    gapSegments: gap.missingCount,
    gapRanges: gap.missing.length,
    timeline: switched.timeline,
    timelineSource: 'checkpoint',
  };
  await deps.walCatalog.putArchiveStatus(database, status);
  deps.log.info('WAL checkpoint finished', { database, archived, lagSeconds, alerts: published, warnings });
  return {
    database,
    switched: { ...switched, at: switchedAt.toISOString() },
    ...(restorePoint ? { restorePoint } : {}),
    archived,
    ...(lagSeconds !== undefined ? { lagSeconds } : {}),
    archiver: stats,
    gap,
    alerts: published,
    warnings,
    status,
  };
}

async function waitArchived(
  deps: WalCheckpointDeps,
  request: WalCheckpointRequest,
  segment: string,
  switchedAtMs: number,
  failuresBefore: number,
): Promise<{ archived: boolean; stats: ArchiverStats; lagSeconds?: number }> {
  const deadline = switchedAtMs + request.waitMs;
  for (;;) {
    const stats = await deps.server.readArchiver(request.connection);
    const now = deps.clock().getTime();
    if (archivedPast(stats.lastArchivedWal, segment)) return { archived: true, stats, lagSeconds: (now - switchedAtMs) / 1000 };
    // The archiver pauses a minute after three failures in a row: no use waiting for it.
    const givingUp = stats.lastFailedWal === segment && stats.failedCount - failuresBefore >= GIVE_UP_FAILURES;
    if (givingUp || now >= deadline) return { archived: false, stats };
    await sleep(request.pollMs ?? 1_000);
  }
}
