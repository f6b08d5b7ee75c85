/**
 * The payload of `sls invoke -f restore-table` (and the task's job): a full restore's fields
 * without `jobs`/`dropFirst`, plus the table pattern and the mode. Pure.
 */
import { z } from 'zod';
import { RESTORE_TABLE_MODES } from '../restore-table-plan';
import { parseTablePattern } from '../table-pattern';
import { parsePitrTarget, type PitrTarget } from '../wal/pitr-target';
import { backupRef, confirmProblems, databaseName, restoreTarget } from './fields';
import { credentialProblems, invalidPayload, issueProblems } from './problems';

function isTablePattern(value: string): boolean {
  try {
    parseTablePattern(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The moment of a restore as of a time (issue 18): exactly one of time, lsn, name, parsed as
 * `strongbox restore-table --time/--lsn/--name` parses them. With a moment, `backupId` is
 * optional and names the base backup the plan chose (the function fills it in).
 */
const moment = {
  time: z.string().optional(),
  lsn: z.string().optional(),
  name: z.string().optional(),
  timeline: z.number().int().positive().optional(),
  /** The database inside the recovered cluster whose tables are read (default: the target database). */
  sourceDatabase: z.string().min(1).max(63).optional(),
};

function momentProblems(raw: unknown): string[] {
  if (!raw || typeof raw !== 'object') return [];
  const given = (['time', 'lsn', 'name'] as const).filter((key) => (raw as Record<string, unknown>)[key] !== undefined);
  if (given.length > 1) return [`give one of time, lsn, name, not ${given.join(' and ')}`];
  if (given.length === 1) {
    try {
      parsePitrTarget({ [given[0]!]: String((raw as Record<string, unknown>)[given[0]!]) });
    } catch (error) {
      return [`${given[0]}: ${(error as Error).message}`];
    }
    return [];
  }
  return (raw as Record<string, unknown>).backupId === undefined ? ['backupId: a backup id or "latest" (or a moment: time, lsn or name)'] : [];
}

/** The moment of a payload, or undefined for a restore from a logical backup. */
export function momentOf(payload: RestoreTablePayload): PitrTarget | undefined {
  if (payload.time === undefined && payload.lsn === undefined && payload.name === undefined) return undefined;
  return parsePitrTarget({ time: payload.time, lsn: payload.lsn, name: payload.name });
}

const restoreTablePayload = z.strictObject({
  backupId: backupRef.optional(),
  ...moment,
  database: databaseName,
  target: restoreTarget,
  confirm: z.string().optional(),
  table: z.string().refine(isTablePattern, { message: 'must be a table pattern like public.orders or \'"Sales".*\'' }),
  mode: z.enum(RESTORE_TABLE_MODES).default('side-by-side'),
  dryRun: z.boolean().optional(),
});

/** A valid restore-table payload (`mode` defaults to side-by-side, which changes no existing table). */
export type RestoreTablePayload = z.infer<typeof restoreTablePayload>;

export const RESTORE_TABLE_EXAMPLE =
  '{"backupId":"latest","database":"app","table":"public.orders","mode":"side-by-side","target":{"secretArn":"arn:aws:secretsmanager:<region>:<account>:secret:<name>"},"confirm":"app"}';

/**
 * Parses a restore-table payload.
 *
 * @throws InputError listing every problem at once (as parseRestorePayload), including a bad
 *   table pattern or mode.
 */
export function parseRestoreTablePayload(raw: unknown): RestoreTablePayload {
  const result = restoreTablePayload.safeParse(raw);
  const problems = [...credentialProblems(raw), ...(result.success ? [] : issueProblems(result.error.issues)), ...confirmProblems(raw), ...momentProblems(raw)];
  if (!result.success || problems.length) throw invalidPayload('restore-table', problems, RESTORE_TABLE_EXAMPLE);
  return result.data;
}
