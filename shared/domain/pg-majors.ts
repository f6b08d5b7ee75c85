/**
 * Which PostgreSQL binaries a task uses for a server of a given major version. The task image
 * (tasks/Dockerfile) installs the servers of every supported major side by side
 * (`/usr/lib/postgresql/<major>/bin`) and the client tools of the newest one:
 * - a scratch cluster recovered from a base backup (a restore as of a moment, a drill) must run
 *   the server of exactly the backup's major: PostgreSQL refuses data files of another one;
 * - pg_dump and pg_basebackup must be at least as new as the server they read (they refuse a
 *   newer server, and read older ones).
 * A major the image lacks is refused before anything starts, saying how to build an image
 * that has it. Pure.
 */
import { StrongboxError } from '../errors';

/** The majors Strongbox supports (the WAL page magics it knows, shared/domain/wal/header.ts). */
export const SUPPORTED_MAJORS = [15, 16, 17, 18] as const;

/** The majors installed, from the folder names under /usr/lib/postgresql that hold a server, newest first. */
export function installedMajors(folders: readonly string[]): number[] {
  return [...new Set(folders.filter((f) => /^\d{2}$/.test(f)).map(Number))].sort((a, b) => b - a);
}

function imageHint(major: number): string {
  return `build the task image with that major: docker buildx build --build-arg PG_MAJORS="${[...new Set([...SUPPORTED_MAJORS, major])].sort().join(' ')}" -f tasks/Dockerfile . (docs/deploy.md), then deploy it`;
}

/**
 * The major whose server runs a cluster recovered from a base backup of `backupMajor`: that
 * same major, installed.
 *
 * @throws StrongboxError PG_VERSION_MISMATCH when the backup's major is unknown (a base backup
 *   recorded before versions were) or not installed here.
 */
export function serverMajorFor(backupMajor: number | undefined, installed: readonly number[]): number {
  if (backupMajor === undefined) {
    throw new StrongboxError('PG_VERSION_MISMATCH', 'the base backup does not record the PostgreSQL major version it was taken of', 'take a new base backup (`strongbox backup --type base`): its entry records the server\'s version');
  }
  if (installed.includes(backupMajor)) return backupMajor;
  throw new StrongboxError(
    'PG_VERSION_MISMATCH',
    `the base backup is of PostgreSQL ${backupMajor}, and only the server${installed.length === 1 ? '' : 's'} of ${installed.length ? installed.join(', ') : 'no major'} ${installed.length === 1 ? 'is' : 'are'} installed here: a cluster recovered from it must run PostgreSQL ${backupMajor}`,
    imageHint(backupMajor),
  );
}

/**
 * The major of the client tools (pg_dump, pg_basebackup) for a server of `serverMajor`: the
 * newest installed, which must not be older than the server.
 *
 * @throws StrongboxError PG_VERSION_MISMATCH when every installed client is older.
 */
export function clientMajorFor(serverMajor: number, installed: readonly number[]): number {
  const newest = installed.length ? Math.max(...installed) : undefined;
  if (newest !== undefined && newest >= serverMajor) return newest;
  throw new StrongboxError(
    'PG_VERSION_MISMATCH',
    `the server runs PostgreSQL ${serverMajor}, newer than the client tools here (${newest ?? 'none'}): pg_dump and pg_basebackup refuse a newer server`,
    imageHint(serverMajor),
  );
}
