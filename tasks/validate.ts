import { tmpdir } from 'node:os';
import { JOB_EXIT } from '../shared/domain/invoke/job';
import { parseValidatePayload, type ValidatePayload } from '../shared/domain/invoke/validate';
import { StrongboxError } from '../shared/errors';
import { chooseDrillBackup } from '../shared/usecases/pitr-drill/choose';
import { pgDrillReader, pgScratchServer } from '../shared/runtime/scratch-tools';
import { runPitrDrill } from '../shared/usecases/pitr-drill';
import { withTaskArchive } from './drill-wal';
import type { WalCatalog } from '../shared/ports/wal-catalog';
import type { Log } from '../shared/ports';
import { awsDeps } from '../shared/runtime/aws';
import { pgValidationDeps } from '../shared/runtime/validate-tools';
import { runValidation, type ValidationDeps } from '../shared/usecases/validate';
import { resolveDrillBackup } from '../shared/usecases/validate/steps';
import { assertDiskFits, assertDrillDiskFits, statfsFree, type FreeDisk } from './disk-check';
import { runJobTask, startJobTaskIfEntry, type JobTaskIo } from './job-task';

/** A drill's adapters; the WAL catalog too for the physical drill. */
export type TaskDeps = ValidationDeps & { walCatalog?: WalCatalog; walBundle?: string };

/** The adapters in AWS: S3, DynamoDB and SNS from the task definition's environment; pg_restore and initdb of the image. */
export function awsValidationTaskDeps(env: NodeJS.ProcessEnv, log: Log): TaskDeps {
  return { ...awsDeps(env, log), ...pgValidationDeps };
}

/**
 * The validation task (`node dist/task-validate.js`, started by the validation state machine,
 * monthly or by `sls invoke -f validate`): reads its job from STRONGBOX_JOB and runs the
 * restore drill in a throwaway PostgreSQL inside the task (the image needs the server
 * binaries). The drill records `lastValidation` in the catalog and publishes
 * VALIDATION_FAILED itself when the backup is bad.
 *
 * First it checks that the backup (the dump, the restored database) fits the task's disk,
 * `free` measuring it: a drill that cannot fit is BACKUP_TOO_LARGE_FOR_TASK before anything
 * starts (nothing recorded).
 *
 * Exit codes: 0 the backup restored and verified; 1 it did not, or the drill could not run;
 * 2 bad job; 143 stopped (nothing recorded).
 */
export async function runValidateTask(
  io: JobTaskIo,
  makeDeps: (env: NodeJS.ProcessEnv, log: Log) => TaskDeps = awsValidationTaskDeps,
  free: FreeDisk = statfsFree,
): Promise<number> {
  return runJobTask(io, { name: 'validation', failed: 'validation task failed' }, parseValidatePayload, async (job, log, signal) => {
    const deps = makeDeps(io.env, log);
    if (job.pitr) return runPitrDrillTask(deps, job, log, signal, free);
    const backup = await resolveDrillBackup(deps.catalog, job.backupId, job.database);
    await assertDiskFits({ job: 'validate', backup, storage: deps.storage, disk: { jobs: 1, scratchInTask: true }, dir: deps.tmpDir ?? tmpdir(), free, log });
    const report = await runValidation(deps, {
      backupId: job.backupId,
      ...(job.database !== undefined ? { database: job.database } : {}),
      signal,
    });
    log.info('validation task finished', { ...report });
    return report.ok ? JOB_EXIT.ok : JOB_EXIT.failed;
  });
}

/**
 * The physical drill in the task (`"pitr": true`): the logical backup chosen (the function sends
 * an id; `latest`/`random` are chosen here otherwise), its recovered cluster checked against the
 * task's disk (assertDrillDiskFits: the base backup and the WAL, not the dump), the archive served inside the task
 * (tasks/drill-wal.ts), the scratch cluster recovered inside the task. Exit 0 when it passed, 1
 * otherwise (recorded as lastPitrDrill, VALIDATION_FAILED published by the drill).
 */
async function runPitrDrillTask(deps: TaskDeps, job: ValidatePayload, log: Log, signal: AbortSignal, free: FreeDisk): Promise<number> {
  const { walCatalog } = deps;
  if (!walCatalog) throw new StrongboxError('UNEXPECTED', 'the validation task has no WAL catalog: the physical drill cannot be planned', 'this is a bug in the task\'s wiring: report it');
  const backup = await chooseDrillBackup(deps.catalog, job.to ?? job.backupId, job.database);
  await assertDrillDiskFits({ deps: { ...deps, walCatalog }, backup, dir: deps.tmpDir ?? tmpdir(), free, log });
  const report = await withTaskArchive({ ...deps, walCatalog }, backup.database, (restoreCommand, warmWal) =>
    runPitrDrill({ ...deps, walCatalog, server: pgScratchServer, reader: pgDrillReader }, { to: backup.id, database: backup.database, restoreCommand: () => restoreCommand, warmWal, signal }),
  );
  log.info('physical drill task finished', { ...report, amcheck: report.amcheck ? { ok: report.amcheck.ok, exitCode: report.amcheck.exitCode } : null });
  return report.ok ? JOB_EXIT.ok : JOB_EXIT.failed;
}

startJobTaskIfEntry('task-validate.js', (io) => runValidateTask(io));
