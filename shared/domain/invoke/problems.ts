/**
 * The problems of an `sls invoke` payload, gathered so that one error lists them all: what
 * zod found, and credentials where only secret references belong. Pure.
 */
import type { z } from 'zod';
import { InputError } from '../../errors';

/** Keys that carry a password in some tool's vocabulary (libpq, RDS secrets, URLs). */
const PASSWORD_KEY = /^(pg)?(password|passwd|pwd|pass)$|password/i;
/** `scheme://user:password@host`: a connection string with its password inside. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i;

/**
 * Every place in `value` that holds a credential: a key named like a password (whatever its
 * value), or a string that is a URL with a password. Returns one problem per place, naming
 * the path, never the value.
 */
export function credentialProblems(value: unknown, path: string[] = []): string[] {
  const where = path.join('.') || '(payload)';
  if (typeof value === 'string') return URL_WITH_PASSWORD.test(value) ? [`${where}: a connection string with a password; pass a secret reference (secretArn) instead`] : [];
  if (Array.isArray(value)) return value.flatMap((item, index) => credentialProblems(item, [...path, String(index)]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) =>
    PASSWORD_KEY.test(key) ? [`${[...path, key].join('.')}: passwords are refused; credentials are secret references only (target.secretArn)`] : credentialProblems(item, [...path, key]),
  );
}

/**
 * zod's issues as `path: message` lines. An unknown key that is a password is left out:
 * credentialProblems says it better.
 */
export function issueProblems(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues
    .filter((issue) => !(issue.code === 'unrecognized_keys' && issue.keys.every((key) => PASSWORD_KEY.test(key))))
    .map((issue) => `${issue.path.map(String).join('.') || '(payload)'}: ${issue.message}`);
}

/**
 * The InputError of a bad payload: every problem, in one message, and an example to copy.
 * Duplicates (the same line from two checks) are listed once.
 */
export function invalidPayload(kind: string, problems: string[], example: string): InputError {
  const unique = [...new Set(problems)];
  return new InputError(`${kind} payload is invalid (${unique.length} problem${unique.length === 1 ? '' : 's'}): ${unique.join('; ')}`, `send ${example}`);
}

/** The properties of `value` when it is a plain object, else an empty object (for cross-field checks on raw input). */
export function fieldsOf(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
