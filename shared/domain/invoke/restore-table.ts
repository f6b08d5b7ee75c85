/**
 * The payload of `sls invoke -f restore-table` (and the task's job): a full restore's fields
 * without `jobs`/`dropFirst`, plus the table pattern and the mode. Pure.
 */
import { z } from 'zod';
import { RESTORE_TABLE_MODES } from '../restore-table-plan';
import { parseTablePattern } from '../table-pattern';
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

const restoreTablePayload = z.strictObject({
  backupId: backupRef,
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
  const problems = [...credentialProblems(raw), ...(result.success ? [] : issueProblems(result.error.issues)), ...confirmProblems(raw)];
  if (!result.success || problems.length) throw invalidPayload('restore-table', problems, RESTORE_TABLE_EXAMPLE);
  return result.data;
}
