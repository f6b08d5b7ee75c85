/**
 * The physical drill (`strongbox validate --pitr`): proves that a base backup plus every WAL
 * segment since reproduces the data a logical backup holds, at the logical backup's own instant.
 *
 * 1. choose the logical backup (an id, `latest`, `random` inside the PITR window) and read its
 *    manifest: the snapshot's instant in the WAL and each table's rows and checksum;
 * 2. recover a scratch cluster (scratch-recovery.ts) to that instant and pause there — to the
 *    slot's consistent point (exact), or to the LSN before and then after the snapshot (bounds);
 * 3. compare every table it can compare exactly (pitr-drill/compare.ts), naming the rest;
 * 4. promote the scratch and run pg_amcheck over it; throw it away.
 *
 * The result goes on the logical backup as `lastPitrDrill` (status shows their history); a
 * failure publishes VALIDATION_FAILED (SEV2). Only an interruption records nothing.
 */
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { AmcheckResult } from '../ports/postgres';
import type { PgConnection, TableRef } from '../ports/postgres';
import type { BackupEntry, PitrDrillResult } from '../domain/backup';
import type { Manifest, SnapshotInstant } from '../domain/manifest';
import { quoteTable } from '../domain/table-pattern';
import { parseLsn } from '../domain/wal/names';
import type { ErrorCode } from '../error-codes';
import { asStrongboxError, StrongboxError } from '../errors';
import { readManifest } from './index-manifest';
import { chooseDrillBackup, type DrillChoice } from './pitr-drill/choose';
import { compareAtInstant, type Comparison, type Digest } from './pitr-drill/compare';
import { recoverScratch, type ScratchRecovery, type ScratchRecoveryDeps } from './scratch-recovery';
import { alertValidationFailed } from './validate/steps';

/** The PostgreSQL reads a drill makes in the scratch (shared/adapters/postgres/drill-read.ts, amcheck.ts). */
export interface DrillReader {
  readRecoveredTables(conn: PgConnection, tables: readonly TableRef[]): Promise<{ digests: Map<string, Digest>; present: string[] }>;
  committedAmong(conn: PgConnection, xip: readonly string[], xmax: string): Promise<string[]>;
  runAmcheck(conn: PgConnection): Promise<AmcheckResult>;
}

export interface PitrDrillDeps extends ScratchRecoveryDeps {
  reader: DrillReader;
  tmpDir?: string;
  random?: () => number;
}

export interface PitrDrillRequest {
  to: DrillChoice;
  database?: string;
  /** Strongbox's wal-fetch for the database (`… %f %p`): how the scratch reads the archive. */
  restoreCommand: (database: string) => string;
  /** Starts the database's WAL prefetcher at the first segment while the base backup unpacks (ScratchRecoveryRequest.warmWal). */
  warmWal?: (database: string, firstSegment: string) => Promise<void>;
  timeoutMs?: number;
  /** The recovered cluster's superuser role, trusted on the scratch's private socket (default postgres). */
  role?: string;
  signal?: AbortSignal;
  onPhase?: (phase: DrillPhase) => void;
}

export type DrillPhase = 'fetch' | 'replay' | 'compare' | 'amcheck' | 'teardown';

export interface PitrDrillReport {
  ok: boolean;
  at: string;
  database: string;
  backupId: string;
  /** How the instant was placed, and the LSN(s) recovered to. */
  instant: SnapshotInstant | null;
  baseBackupId: string | null;
  wal: { first: string; last: string; count: number } | null;
  /** fetch + replay: the recovery time. */
  rtoSeconds: number;
  split: { fetch: number; replay: number; compare: number; amcheck: number };
  replay: { walBytes: number; mbPerSecond: number } | null;
  rpoSeconds: number | null;
  comparison: Comparison | null;
  amcheck: AmcheckResult | null;
  reason?: string;
  code?: ErrorCode;
  hint?: string;
  warnings: string[];
}

const DEFAULT_TIMEOUT_MS = 6 * 3600_000;

/**
 * Runs the drill. Returns a report (ok or not); throws only what chooseDrillBackup throws
 * (nothing chosen, nothing run), INTERRUPTED, and PITR_TARGET_NOT_ARCHIVED (the backup's
 * instant is not in the archive yet: come back after the next WAL switch) — those record nothing
 * and alert nobody.
 */
export async function runPitrDrill(deps: PitrDrillDeps, request: PitrDrillRequest): Promise<PitrDrillReport> {
  const backup = await chooseDrillBackup(deps.catalog, request.to, request.database, deps.random);
  const at = deps.clock().toISOString();
  const report: PitrDrillReport = {
    ok: false, at, database: backup.database, backupId: backup.id, instant: null, baseBackupId: null, wal: null,
    rtoSeconds: 0, split: { fetch: 0, replay: 0, compare: 0, amcheck: 0 }, replay: null, rpoSeconds: null, comparison: null, amcheck: null, warnings: [],
  };
  deps.log.info('physical drill started', { database: backup.database, backupId: backup.id, to: request.to });
  let scratch: ScratchRecovery | undefined;
  try {
    const manifest = await readManifest(deps.storage, backup.manifestKey);
    const instant = manifest.source.snapshot;
    if (!instant) throw new StrongboxError('DRILL_NO_INSTANT', `backup ${backup.id} does not record its snapshot's instant in the WAL (taken by an older Strongbox)`, 'drill a newer logical backup: --to latest');
    report.instant = instant;
    report.rpoSeconds = (await deps.walCatalog.getArchiveStatus(backup.database))?.lagSeconds ?? null;
    const first = instant.method === 'logical-slot' ? instant.lsn : instant.beforeLsn;
    request.onPhase?.('fetch');
    scratch = await recoverScratch(deps, {
      database: backup.database,
      target: { type: 'lsn', lsn: parseLsn(first) },
      exclusive: true,
      parentDir: deps.tmpDir ?? tmpdir(),
      restoreCommand: request.restoreCommand(backup.database),
      ...(request.warmWal ? { warmWal: (first: string) => request.warmWal!(backup.database, first) } : {}),
      timeoutMs: request.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(request.role ? { user: request.role } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      onReplay: () => request.onPhase?.('replay'),
    });
    report.baseBackupId = scratch.base.id;
    report.wal = scratch.plan.wal;
    report.split.fetch = round(scratch.fetchSeconds);
    report.split.replay = round(scratch.replaySeconds);
    request.onPhase?.('compare');
    const compareStarted = performance.now();
    const comparison = await compareInScratch(deps, scratch, manifest, instant, report);
    report.split.compare = round((performance.now() - compareStarted) / 1000);
    report.rtoSeconds = round(report.split.fetch + report.split.replay);
    const walBytes = Number(parseLsn(instant.method === 'logical-slot' ? instant.lsn : instant.afterLsn) - parseLsn(scratch.base.base?.startLsn ?? '0/0'));
    report.replay = { walBytes, mbPerSecond: report.split.replay > 0 ? round(walBytes / 1e6 / report.split.replay) : 0 };
    report.comparison = comparison;
    if (comparison.differences.length > 0) {
      throw new StrongboxError('DRILL_MISMATCH', `the recovered cluster at the instant of backup ${backup.id} differs from it: ${comparison.differences.slice(0, 10).join('; ')}${comparison.differences.length > 10 ? `; and ${comparison.differences.length - 10} more` : ''}`, 'the base backup, the WAL and the dump do not agree: keep them for investigation, take a new base backup and a new logical backup now, and drill again');
    }
    request.onPhase?.('amcheck');
    const amcheckStarted = performance.now();
    await scratch.promote();
    report.amcheck = await deps.reader.runAmcheck(scratch.connection('template1'));
    report.split.amcheck = round((performance.now() - amcheckStarted) / 1000);
    if (!report.amcheck.ok) throw new StrongboxError('DRILL_AMCHECK_FAILED', `pg_amcheck found problems in the cluster recovered to the instant of backup ${backup.id} (exit ${report.amcheck.exitCode}): ${report.amcheck.output.slice(-500)}`, 'the physical path reproduces damaged data: take a new base backup now, and investigate the primary with pg_amcheck');
    report.ok = true;
  } catch (error) {
    const failure = request.signal?.aborted ? asStrongboxError(request.signal.reason) : asStrongboxError(error);
    report.reason = `${failure.code}: ${failure.message}`;
    report.code = failure.code;
    report.hint = failure.hint;
    // Not a broken physical path: the instant is not archived yet (or the drill was stopped). Nothing recorded, no alert.
    if (failure.code === 'INTERRUPTED' || failure.code === 'PITR_TARGET_NOT_ARCHIVED') {
      await teardown(deps, scratch, report, request);
      throw failure;
    }
  }
  await teardown(deps, scratch, report, request);
  await record(deps, backup, report);
  return report;
}

async function compareInScratch(deps: PitrDrillDeps, scratch: ScratchRecovery, manifest: Manifest, instant: SnapshotInstant, report: PitrDrillReport): Promise<Comparison> {
  const conn = scratch.connection(manifest.source.pgDatabase);
  const exact = manifest.tables.filter((t) => !t.estimate);
  const first = await deps.reader.readRecoveredTables(conn, exact);
  if (instant.method === 'logical-slot') return compareAtInstant(manifest.tables, { digests: first.digests, extra: extraTables(first.present, manifest) });
  // Bounds: what committed before the first LSN and yet was unseen by the snapshot spoils it.
  const early = await deps.reader.committedAmong(conn, instant.xip, instant.xmax);
  let second = first;
  if (instant.afterLsn !== instant.beforeLsn) {
    report.split.replay += round(await scratch.advanceTo({ type: 'lsn', lsn: parseLsn(instant.afterLsn) }, true));
    second = await deps.reader.readRecoveredTables(conn, exact);
  }
  const unsettled = new Set<string>();
  for (const name of new Set([...first.digests.keys(), ...second.digests.keys()])) {
    const a = first.digests.get(name);
    const b = second.digests.get(name);
    if (!a || !b || a.rows !== b.rows || a.checksum !== b.checksum) unsettled.add(name);
  }
  const extra = extraTables(second.present, manifest).filter((name) => first.present.includes(name));
  if (early.length > 0) {
    return compareAtInstant(manifest.tables, { digests: second.digests, extra, unsettled: 'all', unsettledReason: `transaction(s) ${early.slice(0, 5).join(', ')} had committed before the LSN read before the snapshot, yet the snapshot did not see them: the bounds do not hold the instant` });
  }
  return compareAtInstant(manifest.tables, { digests: second.digests, extra, unsettled });
}

function extraTables(present: readonly string[], manifest: Manifest): string[] {
  const listed = new Set(manifest.tables.map(quoteTable));
  return present.filter((name) => !listed.has(name));
}

async function teardown(deps: PitrDrillDeps, scratch: ScratchRecovery | undefined, report: PitrDrillReport, request: PitrDrillRequest): Promise<void> {
  if (!scratch) return;
  request.onPhase?.('teardown');
  const left = await scratch.remove();
  if (left) {
    report.warnings.push(left);
    deps.log.error('physical drill scratch not removed', { backupId: report.backupId, problem: left });
  }
}

async function record(deps: PitrDrillDeps, backup: BackupEntry, report: PitrDrillReport): Promise<void> {
  const result: PitrDrillResult = {
    at: report.at,
    ok: report.ok,
    rtoSeconds: report.rtoSeconds,
    ...(report.replay ? { replayMBps: report.replay.mbPerSecond } : {}),
    ...(report.rpoSeconds !== null ? { rpoSeconds: report.rpoSeconds } : {}),
    ...(report.baseBackupId ? { baseBackupId: report.baseBackupId } : {}),
    ...(report.comparison ? { compared: report.comparison.compared, notCompared: report.comparison.notCompared.length } : {}),
    ...(report.reason ? { reason: report.reason.slice(0, 1000) } : {}),
  };
  try {
    await deps.catalog.update(backup.id, { lastPitrDrill: result });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    report.warnings.push(`the result could not be recorded in the catalog: ${detail}`);
    deps.log.error('could not record the physical drill', { backupId: backup.id, error: detail });
  }
  if (report.ok) {
    deps.log.info('physical drill passed', { database: backup.database, backupId: backup.id, rtoSeconds: report.rtoSeconds, compared: report.comparison?.compared ?? 0 });
    return;
  }
  const failure = new StrongboxError(report.code ?? 'RECOVERY_FAILED', report.reason ?? 'the drill failed', report.hint ?? 'read the drill report');
  deps.log.error('physical drill failed', { database: backup.database, backupId: backup.id, code: failure.code, reason: failure.message });
  await alertValidationFailed(deps, backup, failure, 'failed (physical drill: base backup + WAL to its instant)');
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
