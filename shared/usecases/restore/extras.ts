/**
 * The optional ends of a restore: the globals applied before it (--globals) and the operator's
 * command run after it (--after).
 */
import { performance } from 'node:perf_hooks';
import type { PgConnection } from '../../ports/postgres';
import { StrongboxError } from '../../errors';
import type { Log } from '../../ports';
import { seconds } from '../phase-timer';
import type { AfterCommandRunner, RestoreTools } from '../../ports/restore';

/** How the post-restore command ended, as the report shows it. */
export interface AfterReport {
  command: string;
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  seconds: number;
  /** Its last output lines when it failed. */
  tail?: string;
}

/** An object that already exists on the server: kept, and its attributes set from the backup. */
const EXISTING = /^(role|tablespace) "(.+)" already exists$/;

/**
 * Applies the globals script: objects that already exist are reported; any other statement
 * error fails the restore before the target database is touched.
 *
 * @throws a StrongboxError RESTORE_GLOBALS_FAILED listing the errors.
 */
export async function applyGlobals(tools: RestoreTools, target: PgConnection, script: string, signal?: AbortSignal): Promise<{ applied: true; existing: string[] }> {
  const { errors } = await tools.applyGlobals(target, script, signal);
  const existing: string[] = [];
  const other: string[] = [];
  for (const error of errors) {
    const match = EXISTING.exec(error);
    if (match) existing.push(`${match[1]} ${match[2]}`);
    else other.push(error);
  }
  if (other.length > 0) {
    throw new StrongboxError(
      'RESTORE_GLOBALS_FAILED',
      `applying the backup's roles and tablespaces failed: ${other.slice(0, 5).join('; ')}${other.length > 5 ? ` (and ${other.length - 5} more)` : ''}`,
      'the target database was not touched. Fix the cause (e.g. a tablespace folder missing on this server, or a user that may not create roles), or restore without --globals and create the roles yourself',
    );
  }
  return { applied: true, existing };
}

/**
 * Runs the post-restore command with PGHOST, PGPORT, PGUSER and PGDATABASE naming the restored
 * database (and PGPASSWORD, PGPASSFILE, PGSSLMODE when the target connection has them). Never throws: a failing command
 * is reported with `ok: false` and logged.
 */
export async function runAfter(
  runner: AfterCommandRunner,
  command: string,
  request: { target: PgConnection; signal?: AbortSignal; echoAfter?: (chunk: string) => void },
  log: Log,
  at: Record<string, unknown>,
): Promise<AfterReport> {
  const started = performance.now();
  const { target } = request;
  const env: Record<string, string> = { PGHOST: target.host, PGPORT: String(target.port), PGUSER: target.user, PGDATABASE: target.database };
  if (target.password) env.PGPASSWORD = target.password;
  if (target.passfile) env.PGPASSFILE = target.passfile;
  if (target.sslmode) env.PGSSLMODE = target.sslmode;
  const outcome = await runner(command, env, { ...(request.signal ? { signal: request.signal } : {}), ...(request.echoAfter ? { echo: request.echoAfter } : {}) });
  const ok = outcome.exitCode === 0;
  const report: AfterReport = {
    command,
    ok,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    seconds: seconds(performance.now() - started),
    ...(ok ? {} : { tail: outcome.tail.trim().split('\n').slice(-10).join('\n') }),
  };
  if (ok) log.info('post-restore command finished', { ...at, seconds: report.seconds });
  else log.error('post-restore command failed; the restored database stays in place', { ...at, exitCode: outcome.exitCode, signal: outcome.signal });
  return report;
}
