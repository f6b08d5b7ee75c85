import { assertDatabaseName } from '../keys';
import { ConfigError } from '../../errors';

/**
 * Which archiver role may use which database's WAL archive (AWS). The archive endpoint's
 * Function URL admits any principal its resource policy names (the hosts' roles); this
 * map narrows each role to its own databases, and names every database the endpoint
 * serves. Pure.
 *
 * Wire form, the `STRONGBOX_ARCHIVERS` environment variable (kept small: a Lambda's whole
 * environment is limited to 4 KB): `<role>=<database>[,<database>…][;<role>=…]`, where
 * `<role>` is an IAM role name (the name in `arn:aws:iam::<account>:role/<path>/<name>`)
 * and `<database>` a database name, or a prefix ending in `*` (`shop-*`) for a fleet named
 * by convention. Example: `db-host=app,billing;crm-host=crm`.
 */
export type ArchiverRules = ReadonlyMap<string, readonly string[]>;

/** The budget of the variable's value: the rest of the 4 KB is the stack's other variables. */
export const ARCHIVERS_MAX_BYTES = 3072;

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

/**
 * Parses the wire form.
 *
 * @throws ConfigError naming the first bad entry.
 */
export function parseArchivers(text: string): ArchiverRules {
  const rules = new Map<string, string[]>();
  for (const entry of text.split(';').map((part) => part.trim()).filter(Boolean)) {
    const [role, list, ...rest] = entry.split('=');
    if (role === undefined || list === undefined || rest.length > 0 || !ROLE_NAME.test(role.trim())) {
      throw invalid(`"${entry.slice(0, 80)}" is not <role>=<database>,…`);
    }
    const databases = list.split(',').map((name) => name.trim()).filter(Boolean);
    if (databases.length === 0) throw invalid(`role ${role} has no database`);
    for (const name of databases) {
      try {
        assertDatabaseName(name.endsWith('*') ? `${name.slice(0, -1)}x` : name);
      } catch {
        throw invalid(`"${name.slice(0, 80)}" (role ${role}) is not a database name or a prefix ending in *`);
      }
    }
    rules.set(role.trim(), [...(rules.get(role.trim()) ?? []), ...databases]);
  }
  return rules;
}

/** The role name of an assumed-role caller (`arn:aws:sts::<account>:assumed-role/<name>/<session>`), or undefined. */
export function roleOfCaller(userArn: string | undefined): string | undefined {
  const match = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/([^/]+)\/[^/]+$/.exec(userArn ?? '');
  return match?.[1];
}

/** What the rules say of `role` using `database`: allowed, another role's database, or a database no role has. */
export function archiverDecision(rules: ArchiverRules, role: string | undefined, database: string): 'allowed' | 'forbidden' | 'not-served' {
  const covers = (patterns: readonly string[]) => patterns.some((pattern) => (pattern.endsWith('*') ? database.startsWith(pattern.slice(0, -1)) : pattern === database));
  if (role !== undefined && covers(rules.get(role) ?? [])) return 'allowed';
  return [...rules.values()].some(covers) ? 'forbidden' : 'not-served';
}

/**
 * The wire form for the configured databases (for the deployment): each database under
 * its `archiverRole` (a role name or ARN), else `defaultRole`, grouped by role.
 *
 * @throws ConfigError when a database has no role, or the value is over ARCHIVERS_MAX_BYTES
 *   (the hint: name databases by prefix and give the prefix).
 */
export function encodeArchivers(databases: ReadonlyArray<{ name: string; archiverRole?: string }>, defaultRole?: string): string {
  const byRole = new Map<string, string[]>();
  for (const database of databases) {
    const role = roleName(database.archiverRole ?? defaultRole);
    if (!role) throw new ConfigError(`database ${database.name} has no archiver role`, 'give it "archiverRole" in the config, or set the stage parameter archiverRoleArn');
    byRole.set(role, [...(byRole.get(role) ?? []), database.name]);
  }
  const text = [...byRole].map(([role, names]) => `${role}=${names.join(',')}`).join(';');
  if (Buffer.byteLength(text) > ARCHIVERS_MAX_BYTES) {
    throw new ConfigError(
      `the archiver map is ${Buffer.byteLength(text)} bytes, over its budget of ${ARCHIVERS_MAX_BYTES} in the Lambda environment (4 KB in all)`,
      'give databases that share a role a common prefix and write the prefix ending in * (shop-*) in STRONGBOX_ARCHIVERS',
    );
  }
  parseArchivers(text);
  return text;
}

/** The role name of a role name or ARN (`arn:aws:iam::<account>:role/<path>/<name>`). */
function roleName(role: string | undefined): string | undefined {
  if (!role) return undefined;
  const arn = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/.exec(role);
  return arn ? arn[1] : role;
}

function invalid(detail: string): ConfigError {
  return new ConfigError(`STRONGBOX_ARCHIVERS is invalid: ${detail}`, 'write it as <role>=<database>,<database>;<role>=<prefix>* (docs/wal.md, "Who may archive what")');
}
