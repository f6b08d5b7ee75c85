/**
 * The payload of `sls invoke -f validate` and of the monthly schedule (the validation task's
 * job): which backup to drill. Pure.
 */
import { z } from 'zod';
import { backupRef, databaseName } from './fields';
import { credentialProblems, invalidPayload, issueProblems } from './problems';

const validatePayload = z
  .strictObject({
    backupId: backupRef.default('latest'),
    database: databaseName.optional(),
    dryRun: z.boolean().optional(),
    /** The physical drill (docs/drills.md): a base backup and the WAL recovered to a logical backup's instant. */
    pitr: z.boolean().optional(),
    /** With `pitr`: the logical backup whose instant (`latest`, `random` or an id; default: backupId). */
    to: z.union([z.literal('random'), backupRef]).optional(),
  })
  .refine((payload) => payload.to === undefined || payload.pitr === true, { message: '"to" is for the physical drill: add "pitr": true', path: ['to'] });

/** A valid validate payload (`backupId` defaults to `latest`). */
export type ValidatePayload = z.infer<typeof validatePayload>;

export const VALIDATE_EXAMPLE = '{"backupId":"latest","database":"app"} (both optional; "dryRun": true names the backup only; {"pitr":true,"to":"random","database":"app"} for the physical drill)';

/**
 * Parses a validate payload. A drill restores into a scratch PostgreSQL, never a production
 * server: the payload has no target.
 *
 * @throws InputError listing every problem at once, passwords included.
 */
export function parseValidatePayload(raw: unknown): ValidatePayload {
  const result = validatePayload.safeParse(raw ?? {});
  const problems = [...credentialProblems(raw), ...(result.success ? [] : issueProblems(result.error.issues))];
  if (!result.success || problems.length) throw invalidPayload('validate', problems, VALIDATE_EXAMPLE);
  return result.data;
}
