/**
 * `strongbox restore-table --time T | --lsn L | --name N --table PATTERN --target-url URL`:
 * the tables as they were at a moment, through a scratch cluster recovered on this machine
 * from the archive (shared/usecases/restore-table/as-of.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgScratchRecovery } from '../../runtime/scratch-tools';
import { pgRestoreTableDeps } from '../../runtime/table-restore-deps';
import type { PgConnection } from '../../ports/postgres';
import type { RestoreTableMode } from '../../domain/restore-table-plan';
import { parsePitrTarget, type PitrTarget } from '../../domain/wal/pitr-target';
import { InputError } from '../../errors';
import { startLocalArchiving } from '../../local/archiving';
import { resolveDatabase } from '../../local/databases';
import { readLiveInstance } from '../../local/home';
import { walHostPaths } from '../../local/wal-paths';
import { previewTableAsOf, runTableAsOf, type AsOfPreview } from '../../usecases/restore-table/as-of';
import { withInterrupts } from '../interrupts';
import { endProgress, printResult, UsageError, type Output } from '../output';
import { phaseProgressPrinter } from '../phase-progress';
import { withSession } from '../session';
import { checkLogin } from '../target-check';
import type { Confirm } from './restore';
import { warmWalFetch } from '../../local/warm-wal';

/** The moment flags of restore-table. */
export interface AsOfFlags {
  time?: string;
  lsn?: string;
  name?: string;
  timeline?: string;
  timeout?: string;
}

/** The moment asked for, or undefined when none of --time, --lsn, --name is given. @throws UsageError for several. */
export function asOfTarget(flags: AsOfFlags): PitrTarget | undefined {
  if (flags.time === undefined && flags.lsn === undefined && flags.name === undefined) return undefined;
  return parsePitrTarget({ time: flags.time, lsn: flags.lsn, name: flags.name });
}

function previewText(preview: AsOfPreview): string {
  return [
    `Table restore plan (--mode ${preview.mode}): ${preview.pattern} as of ${preview.source.target}, database "${preview.source.sourceDatabase}" of ${preview.database}, into ${preview.target}`,
    `  base backup ${preview.source.baseBackup} (ended ${preview.baseBackupFinishedAt}); WAL ${preview.source.wal.first} .. ${preview.source.wal.last} (${preview.source.wal.count} segments, timelines ${preview.timelines.join(' → ')})`,
    `  disk for the scratch cluster: at least ${preview.space.bytes} bytes (${preview.space.note})`,
    ...preview.steps.map((step, i) => `  ${i + 1}. ${step}`),
    ...preview.warnings.map((warning) => `WARNING: ${warning}`),
  ].join('\n');
}

/** Runs the as-of form of restore-table (see the module). Returns the exit code. */
export async function restoreTableAsOfCommand(at: PitrTarget, request: { target: PgConnection; table: string; mode: RestoreTableMode; database?: string }, flags: AsOfFlags & { dryRun?: boolean; yes?: boolean }, out: Output, confirm: Confirm): Promise<number> {
  const timeline = flags.timeline === undefined ? undefined : Number(flags.timeline);
  if (timeline !== undefined && (!Number.isInteger(timeline) || timeline < 1)) throw new UsageError(`--timeline ${flags.timeline} is not a timeline number`, 'e.g. --timeline 1 (default: the timeline the live server is on)');
  const timeoutSeconds = Number(flags.timeout ?? '3600');
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 10) throw new UsageError(`--timeout ${flags.timeout} is not a number of seconds ≥ 10`, 'e.g. --timeout 3600');
  return withSession(out, async ({ context, config, env }) => {
    const resolved = resolveDatabase(request.database ? { name: request.database } : {}, config, env, context.paths);
    const base = { database: resolved.name, at, target: request.target, table: request.table, mode: request.mode, sourceDatabase: resolved.connection.database, ...(timeline !== undefined ? { timeline } : {}) };
    const preview = await previewTableAsOf(context, base);
    if (flags.dryRun) {
      printResult(out, { dryRun: true, ...preview }, `${previewText(preview)}\n(dry run: nothing was recovered or changed)`);
      return 0;
    }
    await checkLogin('--target-url', request.target, 'database', context.paths);
    if (!flags.yes && confirm) {
      out.stderr(`${previewText(preview)}\n`);
      const answer = (await confirm(`Type the target database's name ("${request.target.database}") to go ahead: `)).trim();
      if (answer !== request.target.database) throw new InputError(`table restore cancelled: "${answer}" is not "${request.target.database}"`, 'run it again and type the name exactly, or pass --yes');
    }
    // Recovery fetches WAL through the archive endpoint: without `npm start`, this command serves it while it runs.
    let stopEndpoint: (() => Promise<void>) | undefined;
    if (!readLiveInstance(context.paths)) {
      const bundle = join(dirname(fileURLToPath(import.meta.url)), 'wal.js');
      const archiving = await startLocalArchiving({ context, storage: config.storage, env, databases: [resolved.name], bundle: existsSync(bundle) ? bundle : resolvePath('dist/wal.js') });
      stopEndpoint = archiving.stop;
    }
    try {
      return await withInterrupts(async (signal) => {
        const onProgress = phaseProgressPrinter(out, `restore-table ${request.table} as of ${preview.source.target}`);
        const report = await runTableAsOf(
          { ...context, ...pgRestoreTableDeps, recovery: pgScratchRecovery },
          { ...base, restoreCommand: walHostPaths(context.paths, resolved.name).restoreCommand, warmWal: warmWalFetch(context.paths, context.log), timeoutMs: timeoutSeconds * 1000, signal, ...(onProgress ? { onProgress } : {}) },
        );
        if (onProgress) endProgress(out);
        const lines = [
          `Restored ${report.tables.length === 1 ? 'table' : `${report.tables.length} tables`} as of ${preview.source.target} (base backup ${report.backupId}, ${report.asOf?.replaySeconds.toFixed(1)} s of replay) into ${report.target} (--mode ${report.mode}) in ${report.seconds.toFixed(1)} s`,
          ...report.tables.map((t) => `  ${t.table} → ${t.into}: ${t.rowsBefore === null ? 'created' : `${t.rowsBefore} rows before`}, ${t.rowsAfter} after (${t.rowsRestored} as of the moment)`),
          `  steps: ${report.steps.map((s) => `${s.name} ${s.seconds.toFixed(1)} s`).join(', ')}`,
        ];
        printResult(out, report, lines.join('\n'));
        return 0;
      });
    } finally {
      if (stopEndpoint) await stopEndpoint();
    }
  });
}
