/**
 * Connection strings and the environment that hands a connection to libpq tools.
 * Pure: reads no environment and no files (the caller passes passfile contents in).
 */
import { InputError } from '../errors';
import type { PgConnection } from '../ports/postgres';

const DEFAULT_PORT = 5432;
const URL_HINT =
  'write it as postgresql://USER@HOST:PORT/DATABASE (percent-encode special characters; ' +
  'keep the password out of it: use PGPASSFILE or the secret reference)';

/** Query parameters we understand; libpq refuses unknown ones, and so do we. */
const KNOWN_PARAMS = new Set(['sslmode', 'host', 'port', 'user', 'password', 'passfile', 'dbname', 'application_name', 'connect_timeout']);
const SSL_MODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);

/**
 * Parses a `postgres://` or `postgresql://` URL as libpq does: percent-decoding of every
 * part, default port 5432, `?sslmode=` (and `host`, `port`, `user`, `password`,
 * `passfile`, `dbname` as query parameters). A URL without host means `localhost`.
 *
 * @throws InputError for anything else: another scheme, a missing user or database name,
 *   a bad port, an unknown query parameter or sslmode. The message never contains the password.
 */
export function parseDatabaseUrl(url: string): PgConnection {
  const trimmed = url.trim();
  const scheme = /^(postgres|postgresql):\/\//i.exec(trimmed);
  if (!scheme) throw new InputError('the database URL must start with postgresql:// or postgres://', URL_HINT);
  let parsed: URL;
  try {
    // WHATWG URL parses non-special schemes without touching the host's case or percent-escapes.
    parsed = new URL(`postgresql://${trimmed.slice(scheme[0].length)}`);
  } catch (error) {
    throw new InputError('the database URL cannot be parsed', URL_HINT, { cause: redactError(error) });
  }
  const params = new Map<string, string>();
  for (const [key, value] of parsed.searchParams) {
    if (!KNOWN_PARAMS.has(key)) throw new InputError(`the database URL has an unknown parameter "${key}"`, `remove it; understood parameters: ${[...KNOWN_PARAMS].join(', ')}`);
    params.set(key, value);
  }

  const host = params.get('host') ?? (stripBrackets(decode(parsed.hostname)) || 'localhost');
  const port = parsePort(params.get('port') ?? parsed.port);
  const user = params.get('user') ?? decode(parsed.username);
  if (!user) throw new InputError('the database URL names no user', URL_HINT);
  const database = params.get('dbname') ?? decode(parsed.pathname.replace(/^\//, ''));
  if (!database) throw new InputError('the database URL names no database', URL_HINT);
  if (database.includes('/')) throw new InputError('the database URL has more than one path segment', URL_HINT);

  const connection: PgConnection = { host, port, user, database };
  const password = params.get('password') ?? decode(parsed.password);
  if (password) connection.password = password;
  const passfile = params.get('passfile');
  if (passfile) connection.passfile = passfile;
  const sslmode = params.get('sslmode');
  if (sslmode !== undefined) {
    if (!SSL_MODES.has(sslmode)) throw new InputError(`the database URL has an unknown sslmode "${sslmode}"`, `use one of ${[...SSL_MODES].join(', ')}`);
    connection.sslmode = sslmode;
  }
  return connection;
}

/** `postgresql://user@host:port/database`: safe for logs, messages and manifests (never the password). */
export function redactConnection(c: PgConnection): string {
  const host = c.host.includes(':') && !c.host.startsWith('/') ? `[${c.host}]` : c.host;
  return `postgresql://${encodeURIComponent(c.user)}@${host}:${c.port}/${encodeURIComponent(c.database)}`;
}

/**
 * The libpq environment variables that describe `c`, for a child process (pg_dump, psql…).
 * The connection travels only here, never in argv. PGPASSWORD, PGPASSFILE and PGSSLMODE
 * appear only when the connection has them.
 */
export function pgEnv(c: PgConnection): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: c.database,
    PGAPPNAME: 'strongbox',
    PGCONNECT_TIMEOUT: '10',
  };
  if (c.password !== undefined) env.PGPASSWORD = c.password;
  if (c.passfile !== undefined) env.PGPASSFILE = c.passfile;
  if (c.sslmode !== undefined) env.PGSSLMODE = c.sslmode;
  return env;
}

/**
 * Finds the password for `c` in the text of a libpq passfile (`host:port:database:user:password`
 * lines, `*` matches anything, `\` escapes `:` and `\`), as libpq does: first matching line wins.
 * Returns undefined when no line matches.
 */
export function passwordFromPassfile(text: string, c: PgConnection): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = splitPassfileLine(line);
    if (fields.length < 5) continue;
    const [host, port, database, user] = fields;
    const wanted = [c.host, String(c.port), c.database, c.user];
    if ([host, port, database, user].every((field, i) => field === '*' || field === wanted[i])) {
      return fields.slice(4).join(':');
    }
  }
  return undefined;
}

function splitPassfileLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '\\' && i + 1 < line.length) {
      current += line[++i];
    } else if (ch === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  fields.push(current);
  return fields;
}

function parsePort(text: string): number {
  if (text === '') return DEFAULT_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new InputError(`the database URL has an invalid port "${text}"`, URL_HINT);
  return port;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new InputError('the database URL has an invalid percent-escape', URL_HINT);
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** URL parse errors quote the input, password included: keep only their kind. */
function redactError(error: unknown): Error {
  return new Error(error instanceof Error ? error.name : 'invalid URL');
}
