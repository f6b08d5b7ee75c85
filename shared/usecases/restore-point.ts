import type { RestorePoint, WalCatalog } from '../ports/wal-catalog';
import type { WalServer } from '../ports/wal-server';
import type { PgConnection } from '../ports/postgres';
import { ConflictError, InputError, StrongboxError } from '../errors';
import type { Clock, Log } from '../ports';

export interface RestorePointDeps {
  walCatalog: WalCatalog;
  server: Pick<WalServer, 'createRestorePoint'>;
  clock: Clock;
  log: Log;
}

/** PostgreSQL keeps restore point names in a 64-byte field, NUL included. */
export const MAX_RESTORE_POINT_BYTES = 63;

/**
 * Throws InputError unless `name` can name a restore point: 1–63 bytes of UTF-8, no control
 * characters, no leading or trailing space (a PITR target must be typed back exactly).
 */
export function assertRestorePointName(name: string): void {
  const hint = 'use 1–63 bytes of printable characters, e.g. before-migration-42';
  if (name.length === 0) throw new InputError('the restore point name is empty', hint);
  if (Buffer.byteLength(name, 'utf8') > MAX_RESTORE_POINT_BYTES) {
    throw new InputError(`restore point name ${JSON.stringify(name.slice(0, 80))} is ${Buffer.byteLength(name, 'utf8')} bytes, over ${MAX_RESTORE_POINT_BYTES}`, hint);
  }
  if (/\p{Cc}/u.test(name)) throw new InputError(`restore point name ${JSON.stringify(name)} contains a control character`, hint);
  if (name.trim() !== name) throw new InputError(`restore point name ${JSON.stringify(name)} starts or ends with a space`, hint);
}

function alreadyExists(database: string, name: string, existing?: RestorePoint): StrongboxError {
  return new StrongboxError(
    'RESTORE_POINT_EXISTS',
    `database "${database}" already has a restore point named ${JSON.stringify(name)}${existing ? ` (at ${existing.lsn}, ${existing.createdAt})` : ''}`,
    'pick another name (e.g. add a date); PITR stops at the first point of a name, so names must be unique',
  );
}

/**
 * Creates a named restore point on the server (`pg_create_restore_point`, the name bound
 * as a parameter) and records it in the catalog so that `strongbox pitr --name` can find it.
 * Refuses a name already recorded for the database.
 *
 * @throws InputError for a bad name; StrongboxError RESTORE_POINT_EXISTS when the name is
 *   taken; DB_PERMISSION_DENIED / DatabaseConnectionError / DumpError from the server;
 *   CatalogError from the catalog (the point then exists on the server but is not recorded).
 */
export async function createNamedRestorePoint(deps: RestorePointDeps, request: { database: string; connection: PgConnection; name: string }): Promise<RestorePoint> {
  const { database, name } = request;
  assertRestorePointName(name);
  const existing = await deps.walCatalog.getRestorePoint(database, name);
  if (existing) throw alreadyExists(database, name, existing);
  const created = await deps.server.createRestorePoint(request.connection, name);
  const point: RestorePoint = { name, lsn: created.lsn, timeline: created.timeline, createdAt: deps.clock().toISOString() };
  try {
    await deps.walCatalog.recordRestorePoint(database, point);
  } catch (error) {
    // Another caller recorded the same name between our read and our write.
    if (error instanceof ConflictError) throw alreadyExists(database, name);
    throw error;
  }
  deps.log.info('restore point created', { database, name, lsn: point.lsn, timeline: point.timeline });
  return point;
}
