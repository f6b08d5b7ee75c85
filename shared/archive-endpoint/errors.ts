import { httpStatusOf } from '../error-codes';
import { StrongboxError } from '../errors';

/** Errors of the endpoint's transport, and the protocol's error → HTTP status (each code's `http` in shared/error-codes.ts; docs/wal.md). */

/** 401 UNAUTHENTICATED: no credentials, or the wrong ones. */
export class UnauthenticatedError extends StrongboxError {
  constructor(how: string) {
    super('UNAUTHENTICATED', `the request is not authenticated (${how})`, how === 'iam'
      ? 'sign requests with SigV4 (service lambda) using a role allowed to invoke the function URL'
      : 'send `Authorization: Bearer <token>` with the token from the token file that `npm start` wrote');
  }
}

/** 404 NOT_FOUND: no such route (in this mode). */
export class RouteNotFoundError extends StrongboxError {
  constructor(message: string, hint = 'the archive protocol v1 routes are under /v1/ (docs/wal.md)') {
    super('NOT_FOUND', message, hint);
  }
}

/** 405 METHOD_NOT_ALLOWED, with the methods the route has. */
export class MethodNotAllowedError extends StrongboxError {
  readonly allow: readonly string[];
  constructor(method: string, allow: readonly string[]) {
    super('METHOD_NOT_ALLOWED', `${method.slice(0, 16)} is not allowed here`, `use ${allow.join(' or ')}`);
    this.allow = allow;
  }
}

/** 403 FORBIDDEN: the credential is valid but does not cover this database. */
export class ForbiddenDatabaseError extends StrongboxError {
  constructor(database: string, who: string) {
    super(
      'FORBIDDEN',
      `${who} may not use the WAL archive of database "${database}"`,
      'each database\'s host uses its own credential: check `database` and the token file (local mode) or the role (AWS, STRONGBOX_ARCHIVERS) in the host\'s wal.json',
    );
  }
}

/** 403 DATABASE_NOT_SERVED: no such database in the configuration; nothing is created for it. */
export class DatabaseNotServedError extends StrongboxError {
  constructor(database: string) {
    super(
      'DATABASE_NOT_SERVED',
      `this archive endpoint does not serve database "${database}"`,
      'add the database to strongbox.config.json (and, in AWS, its archiver role) and restart or redeploy; check `database` in the host\'s wal.json',
    );
  }
}

/** The protocol's error document: `{"error": {"code", "message", "hint"}}`. */
export interface ErrorBody {
  error: { code: string; message: string; hint: string };
}

/**
 * The HTTP status and body of an error: its code's registered status. Codes without one
 * answer 500 INTERNAL; an error that is not a StrongboxError keeps its message out of the
 * answer (the log has it).
 */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof StrongboxError) {
    const status = httpStatusOf(error.code);
    if (status !== undefined) return { status, body: { error: error.toJSON() } };
    return { status: 500, body: { error: new StrongboxError('INTERNAL', error.message, error.hint).toJSON() } };
  }
  return { status: 500, body: { error: new StrongboxError('INTERNAL', 'the archive endpoint failed unexpectedly').toJSON() } };
}
