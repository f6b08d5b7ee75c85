/**
 * The fields the `sls invoke` payloads share: a backup reference, Strongbox's database name,
 * and a restore target given as a secret reference. Pure.
 */
import { z } from 'zod';
import { assertDatabaseName, isBackupId } from '../keys';
import { fieldsOf } from './problems';

/** A Secrets Manager secret ARN (any partition), full or partial. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

function isDatabaseName(name: string): boolean {
  try {
    assertDatabaseName(name);
    return true;
  } catch {
    return false;
  }
}

/** `latest`, or a backup id. */
export const backupRef = z.string().refine((value) => value === 'latest' || isBackupId(value), {
  message: 'must be "latest" or a backup id like 20260102T030000Z-l-1a2b3c',
});

/** Strongbox's name of a backed-up database (a storage path segment). */
export const databaseName = z.string().refine(isDatabaseName, { message: 'must be 1-63 letters, digits, "_", "." or "-"' });

/**
 * Where to restore: the secret holding the server's connection (RDS-style JSON: host, port,
 * username, password, dbname), and optionally the database to replace on it (default: the
 * payload's `database`). Never a password.
 */
export const restoreTarget = z.strictObject({
  secretArn: z.string().regex(SECRET_ARN, 'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)'),
  database: z.string().min(1).max(63).optional(),
});

export type RestoreTarget = z.infer<typeof restoreTarget>;

/**
 * The problems of `confirm` in a raw payload: it must repeat the name of the database that
 * is about to change (`target.database`, else `database`). A dry run changes nothing and
 * needs no confirmation, but a wrong one is still refused.
 */
export function confirmProblems(raw: unknown): string[] {
  const fields = fieldsOf(raw);
  const target = fieldsOf(fields.target).database ?? fields.database;
  const name = typeof target === 'string' ? target : undefined;
  const confirm = fields.confirm;
  if (confirm === undefined) {
    if (fields.dryRun === true) return [];
    return [`confirm: required: repeat the target database name${name ? ` ("${name}")` : ''} to confirm that it is replaced`];
  }
  if (typeof confirm !== 'string') return ['confirm: must be a string, the target database name'];
  if (name !== undefined && confirm !== name) return [`confirm: "${confirm}" is not the target database name "${name}"`];
  return [];
}

/** The database a restore changes: `target.database`, else `database`. */
export function targetDatabaseOf(payload: { database: string; target: RestoreTarget }): string {
  return payload.target.database ?? payload.database;
}
