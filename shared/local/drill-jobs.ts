/**
 * The monthly drills of local mode (`npm start`), as the dispatcher starts them in AWS on the
 * validation schedule (deploy/schedules.json `validation`, 04:00 UTC on the 1st): for each
 * database the restore drill of its newest logical backup (`validate latest`) and the physical
 * drill of a logical backup drawn at random inside the PITR window (`validate --pitr --to
 * random`, shared/usecases/pitr-drill.ts). Each drill records its result on the backup and
 * alerts a failure itself (VALIDATION_FAILED), as in AWS. Locally they run in this process one
 * after another — one machine never holds two scratch clusters at once — and read the archive
 * through the endpoint this process serves (the database's wal-fetch script).
 */
import { tmpdir } from 'node:os';
import { InterruptedError } from '../errors';
import { pgDrillReader, pgScratchServer } from '../runtime/scratch-tools';
import { pgValidationDeps } from '../runtime/validate-tools';
import { runPitrDrill, type PitrDrillReport } from '../usecases/pitr-drill';
import { runValidation, type ValidationReport } from '../usecases/validate';
import type { LocalContext } from './context';
import type { ScheduledJob } from './scheduler';
import { walHostPaths } from './wal-paths';
import { warmWalFetch } from './warm-wal';

/** What the drill jobs need. */
export interface LocalDrillsInput {
  context: LocalContext;
  databases: readonly string[];
  /** The validation schedule (`schedules.validation`). */
  expression: string;
  /** Where scratch clusters go (default: the OS temporary folder; PostgreSQL's OS user must traverse it). */
  tmpDir?: string;
  /** How long one physical drill's recovery may take (default 6 h). */
  timeoutMs?: number;
  /** Says each drill's outcome in a line (the server's report). */
  say?: (line: string) => void;
}

/** The jobs, and a way to stop the drill running when the server stops. */
export interface LocalDrills {
  jobs: ScheduledJob[];
  /** Aborts the running drill (it removes its scratch and records nothing) and starts no queued one. */
  abort(): void;
}

const DEFAULT_TIMEOUT_MS = 6 * 3600_000;

/** The restore drill's and the physical drill's jobs of each database, run one at a time. */
export function localDrillJobs(input: LocalDrillsInput): LocalDrills {
  const { context } = input;
  const stop = new AbortController();
  let queue: Promise<unknown> = Promise.resolve();
  // One drill at a time: a job waits for the drills fired before it.
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = queue.then(() => {
      stop.signal.throwIfAborted();
      return run();
    });
    queue = next.catch(() => undefined);
    return next;
  };
  const say = input.say ?? (() => undefined);
  const jobs = input.databases.flatMap((database): ScheduledJob[] => [
    {
      name: `restore drill ${database}`,
      expression: input.expression,
      run: () =>
        serial(async () => {
          const report = await runValidation({ ...context, ...pgValidationDeps }, { backupId: 'latest', database, signal: stop.signal });
          say(logicalLine(report));
          return report;
        }),
    },
    {
      name: `physical drill ${database}`,
      expression: input.expression,
      run: () =>
        serial(async () => {
          const report = await runPitrDrill(
            { ...context, server: pgScratchServer, reader: pgDrillReader, tmpDir: input.tmpDir ?? tmpdir() },
            { to: 'random', database, restoreCommand: (name) => walHostPaths(context.paths, name).restoreCommand, warmWal: warmWalFetch(context.paths, context.log), timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: stop.signal },
          );
          say(physicalLine(report));
          return report;
        }),
    },
  ]);
  return { jobs, abort: () => stop.abort(new InterruptedError('a stop', 'Strongbox local mode is stopping')) };
}

function logicalLine(report: ValidationReport): string {
  const outcome = report.ok ? `OK in ${report.seconds.toFixed(1)} s` : `FAILED (${report.reason ?? 'see the alert'})`;
  return `${report.at} restore drill of ${report.database}, backup ${report.backupId}: ${outcome}`;
}

function physicalLine(report: PitrDrillReport): string {
  const outcome = report.ok ? `OK, RTO ${report.rtoSeconds.toFixed(1)} s, ${report.comparison?.compared ?? 0} table(s) compared` : `FAILED (${report.reason ?? 'see the alert'})`;
  return `${report.at} physical drill of ${report.database} to the instant of backup ${report.backupId}: ${outcome}`;
}
