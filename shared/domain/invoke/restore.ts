/**
 * The payload of `sls invoke -f restore` (and the restore task's job): which backup, which
 * database, where to (a secret reference), and the confirmation. Pure.
 */
import { z } from 'zod';
import { backupRef, confirmProblems, databaseName, restoreTarget } from './fields';
import { credentialProblems, invalidPayload, issueProblems } from './problems';

const MAX_JOBS = 64;

const restorePayload = z.strictObject({
  backupId: backupRef,
  database: databaseName,
  target: restoreTarget,
  /** Checked by confirmProblems (it depends on the target). */
  confirm: z.string().optional(),
  jobs: z.number().int().min(1).max(MAX_JOBS).optional(),
  dropFirst: z.boolean().optional(),
  dryRun: z.boolean().optional(),
});

/** A valid restore payload. */
export type RestorePayload = z.infer<typeof restorePayload>;

export const RESTORE_EXAMPLE =
  '{"backupId":"latest","database":"app","target":{"secretArn":"arn:aws:secretsmanager:<region>:<account>:secret:<name>"},"confirm":"app"} (optional: "jobs", "dropFirst", "dryRun")';

/**
 * Parses a restore payload.
 *
 * @throws InputError listing every problem at once: wrong or unknown fields, a missing or
 *   wrong `confirm` (it must repeat the target database name unless `dryRun`), and any
 *   password or connection string with a password, wherever it is.
 */
export function parseRestorePayload(raw: unknown): RestorePayload {
  const result = restorePayload.safeParse(raw);
  const problems = [...credentialProblems(raw), ...(result.success ? [] : issueProblems(result.error.issues)), ...confirmProblems(raw)];
  if (!result.success || problems.length) throw invalidPayload('restore', problems, RESTORE_EXAMPLE);
  return result.data;
}
