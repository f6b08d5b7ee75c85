import { InputError } from '../../errors';

/** S3 refuses keys longer than 1024 bytes of UTF-8; the folder driver keeps the same limit so both accept the same keys. */
const MAX_KEY_BYTES = 1024;

const KEY_HINT = 'use a relative key made of `/`-separated names, e.g. `backups/app/2024-05-01/dump`: no leading `/`, no empty, `.` or `..` names, no `\\`, no NUL';

/**
 * Checks that `key` names one object in every driver the same way.
 *
 * A key is relative and `/`-separated: it does not start with `/`, has no empty
 * segment (`a//b`, trailing `/`), no `.` or `..` segment, no `\` and no NUL, and
 * is at most 1024 bytes of UTF-8. The folder driver maps keys to paths, so these
 * rules are what keeps a key from escaping the repository folder or aliasing another.
 *
 * @throws InputError when the key breaks a rule; its hint says what a key looks like.
 */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new InputError(`invalid storage key ${JSON.stringify(key)}: ${problem}`, KEY_HINT);
  }
}

/**
 * Checks a listing prefix: empty, or a key's beginning that may end with `/`
 * (`wal/`, `backups/app/2024-`). Same rules as keys otherwise.
 *
 * @throws InputError when the prefix could not begin any valid key.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  // A prefix may stop right after a `/` or in the middle of a name; probing it with
  // a name appended checks everything else with the key rules.
  const probe = prefix.endsWith('/') ? `${prefix}x` : prefix;
  const problem = keyProblem(probe);
  if (problem !== undefined) {
    throw new InputError(`invalid storage prefix ${JSON.stringify(prefix)}: ${problem}`, KEY_HINT);
  }
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'it is empty';
  if (key.includes('\0')) return 'it contains NUL';
  if (key.includes('\\')) return 'it contains `\\`';
  if (key.startsWith('/')) return 'it starts with `/`';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`;
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty name between `/`';
    if (segment === '.' || segment === '..') return `it has a \`${segment}\` name`;
  }
  return undefined;
}
