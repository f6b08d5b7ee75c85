import { StrongboxError } from '../errors';
import { assertDatabaseName } from '../domain/keys';
import { walFileRef, type WalFileRef } from '../domain/wal/file-ref';
import { RouteNotFoundError } from './errors';

/** The routes of protocol v1 (docs/wal.md), by the shape of their path. */
export type RouteName = 'health' | 'identity' | 'wal' | 'body' | 'complete';

/** A request path understood: which route, and for which database and WAL file (checked once: `file`). */
export interface RouteMatch {
  route: RouteName;
  database?: string;
  name?: string;
  /** The database and WAL file name as one checked value, for every route that names a file. */
  file?: WalFileRef;
}

const SAFE_PATH = /^\/[A-Za-z0-9._\-/]*$/;

/**
 * Parses the request target exactly as received (not decoded, query included). Anything
 * that could be read as another path by some layer is refused before storage is touched:
 * a query string, `%` escapes (`%2F`), `\`, empty, `.` or `..` segments.
 *
 * @throws StrongboxError BAD_WAL_NAME for a path trick or a WAL name that is not one,
 *   InputError (INPUT_INVALID) for a database name, RouteNotFoundError for no such route.
 */
export function matchRoute(target: string): RouteMatch {
  if (target === '/') throw new RouteNotFoundError('no route "/"');
  if (!SAFE_PATH.test(target)) throw pathTrick(target, 'only letters, digits, "/", ".", "_" and "-" may appear, unencoded, and no query string');
  const segments = target.slice(1).split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw pathTrick(target, 'no empty, "." or ".." segments');
  }
  const [version, kind, database, name, action, ...rest] = segments;
  if (version !== 'v1') throw new RouteNotFoundError(`no route ${describe(target)}`);
  if (kind === 'health' && segments.length === 2) return { route: 'health' };
  if (kind !== 'wal' || database === undefined || name === undefined || rest.length > 0) throw new RouteNotFoundError(`no route ${describe(target)}`);
  if (name === 'identity' && action === undefined) {
    assertDatabaseName(database);
    return { route: 'identity', database };
  }
  const file = walFileRef(database, name);
  if (action === undefined) return { route: 'wal', database, name, file };
  if (action === 'body' || action === 'complete') return { route: action, database, name, file };
  throw new RouteNotFoundError(`no route ${describe(target)}`);
}

function pathTrick(target: string, rule: string): StrongboxError {
  return new StrongboxError('BAD_WAL_NAME', `the request path ${describe(target)} is refused: ${rule}`, 'call /v1/wal/<database>/<name> with the WAL file name exactly as PostgreSQL gives it (%f)');
}

function describe(target: string): string {
  return JSON.stringify(target.slice(0, 120));
}
