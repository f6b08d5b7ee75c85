/**
 * `strongbox validate --pitr`: the physical drill (shared/usecases/pitr-drill.ts) from the CLI.
 * Recovery reads WAL through the archive endpoint: without `npm start`, this command serves it
 * while it runs, as `pitr --start` does.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalArchiving } from '../../local/archiving';
import { resolveDatabase } from '../../local/databases';
import { readLiveInstance } from '../../local/home';
import { walHostPaths } from '../../local/wal-paths';
import { warmWalFetch } from '../../local/warm-wal';
import { pgDrillReader, pgScratchServer } from '../../runtime/scratch-tools';
import { runPitrDrill, type PitrDrillReport } from '../../usecases/pitr-drill';
import { endProgress, printResult, UsageError, type Output } from '../output';
import { withInterrupts } from '../interrupts';
import { phaseProgressPrinter } from '../phase-progress';
import { withSession } from '../session';

export interface PitrDrillFlags {
  database?: string;
  to?: string;
  scratchUrl?: string;
  type?: string;
  timeout?: string;
  role?: string;
}

/** The report as a person reads it. */
export function drillText(report: PitrDrillReport): string {
  const { split } = report;
  const instant = report.instant
    ? report.instant.method === 'logical-slot'
      ? `its snapshot's exact instant, LSN ${report.instant.lsn} (a logical slot's consistent point)`
      : `its snapshot, between LSN ${report.instant.beforeLsn} and ${report.instant.afterLsn} (wal_level replica)`
    : 'its snapshot';
  const times = `fetch ${split.fetch.toFixed(1)} s, replay ${split.replay.toFixed(1)} s, compare ${split.compare.toFixed(1)} s, amcheck ${split.amcheck.toFixed(1)} s`;
  const head = report.ok
    ? `Physical drill of backup ${report.backupId} of "${report.database}": OK, RTO ${report.rtoSeconds.toFixed(1)} s (${times})`
    : `Physical drill FAILED: backup ${report.backupId} of "${report.database}" (${times})`;
  const lines = [head, `  recovered   base backup ${report.baseBackupId ?? '-'} + WAL ${report.wal ? `${report.wal.first} .. ${report.wal.last} (${report.wal.count} segments)` : '-'} to ${instant}`];
  if (report.replay) lines.push(`  replay      ${(report.replay.walBytes / 1e6).toFixed(1)} MB of WAL at ${report.replay.mbPerSecond.toFixed(1)} MB/s`);
  if (report.rpoSeconds !== null) lines.push(`  RPO         the archive's lag at the drill: ${report.rpoSeconds.toFixed(0)} s`);
  const c = report.comparison;
  if (c) {
    lines.push(`  compared    ${c.compared} table${c.compared === 1 ? '' : 's'} (${c.rows} rows): rows and content checksum equal to the manifest${c.differences.length ? `; ${c.differences.length} difference(s)` : ''}`);
    if (c.rowsOnly.length) lines.push(`  rows only   ${c.rowsOnly.length} of them: the manifest has no checksum (an older backup)`);
    for (const left of c.notCompared.slice(0, 20)) lines.push(`  not compared ${left.table}: ${left.why}`);
    if (c.notCompared.length > 20) lines.push(`  not compared … and ${c.notCompared.length - 20} more (--json lists them)`);
  }
  if (report.amcheck) lines.push(`  pg_amcheck  ${report.amcheck.ok ? 'no corruption found' : `exit ${report.amcheck.exitCode}`}`);
  if (!report.ok) lines.push(`  reason: ${report.reason ?? ''}`, `  HINT: ${report.hint ?? ''}`);
  return [...lines, ...report.warnings.map((w) => `WARNING: ${w}`)].join('\n');
}

/** Runs the drill; 0 when it passed, 1 when it failed (recorded, alerted). */
export async function pitrDrillCommand(positional: string, flags: PitrDrillFlags, out: Output): Promise<number> {
  if (flags.scratchUrl !== undefined) throw new UsageError('--scratch-url is for restore drills of logical backups', 'the physical drill recovers its own scratch cluster: leave out --scratch-url');
  if (flags.type !== undefined) throw new UsageError('--type does not apply to --pitr', 'the drill recovers a base backup to a logical backup\'s instant: choose the logical backup with --to');
  const to = flags.to ?? positional;
  const timeoutSeconds = flags.timeout === undefined ? 6 * 3600 : Number(flags.timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 10) throw new UsageError(`--timeout ${flags.timeout} is not a number of seconds ≥ 10`, 'e.g. --timeout 3600');
  return withSession(out, async ({ context, config, env }) => {
    const database = resolveDatabase({ name: flags.database }, config, env, context.paths).name;
    let stopEndpoint: (() => Promise<void>) | undefined;
    if (!readLiveInstance(context.paths)) {
      const bundle = join(dirname(fileURLToPath(import.meta.url)), 'wal.js');
      const archiving = await startLocalArchiving({ context, storage: config.storage, env, databases: [database], bundle: existsSync(bundle) ? bundle : resolvePath('dist/wal.js') });
      stopEndpoint = archiving.stop;
    }
    try {
      return await withInterrupts(async (signal) => {
        const progress = phaseProgressPrinter(out, `validate --pitr ${to}`);
        const report = await runPitrDrill(
          { ...context, server: pgScratchServer, reader: pgDrillReader },
          { to, database, ...(flags.role ? { role: flags.role } : {}), restoreCommand: (db) => walHostPaths(context.paths, db).restoreCommand, warmWal: warmWalFetch(context.paths, context.log), timeoutMs: timeoutSeconds * 1000, signal, ...(progress ? { onPhase: (phase) => progress({ phase }) } : {}) },
        );
        if (progress) endProgress(out);
        printResult(out, report, drillText(report));
        return report.ok ? 0 : 1;
      });
    } finally {
      if (stopEndpoint) await stopEndpoint();
    }
  });
}
