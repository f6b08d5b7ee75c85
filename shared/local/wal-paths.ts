import { join } from 'node:path';
import { assertDatabaseName } from '../domain/keys';
import type { HomePaths } from './home';

/** Where local mode keeps one database's WAL host side, and the commands PostgreSQL runs. */
export interface WalHostPaths {
  /** `<home>/wal/<database>` */
  dir: string;
  /** The host config (`wal.json`, docs/wal.md) wal-push and wal-fetch read. */
  config: string;
  /** The POSIX shell fast path PostgreSQL runs as archive_command. */
  pushScript: string;
  /** The POSIX shell fast path PostgreSQL runs as restore_command. */
  fetchScript: string;
  /** The uploader's and prefetcher's spool (`<home>/spool/<database>`). */
  spool: string;
  /** The exact archive_command for this database: `'<pushScript>' %p`. */
  archiveCommand: string;
  /** The exact restore_command for this database: `'<fetchScript>' %f %p`. */
  restoreCommand: string;
}

/**
 * The one naming of local mode's WAL files, shared by `npm start` (which writes them),
 * `strongbox doctor` (which compares the server's archive_command with it) and PITR
 * (which sets restore_command). Throws InputError for a database name Strongbox refuses.
 */
export function walHostPaths(paths: HomePaths, database: string): WalHostPaths {
  assertDatabaseName(database);
  const dir = join(paths.root, 'wal', database);
  const pushScript = join(dir, 'wal-push');
  const fetchScript = join(dir, 'wal-fetch');
  return {
    dir,
    config: join(dir, 'wal.json'),
    pushScript,
    fetchScript,
    spool: join(paths.root, 'spool', database),
    archiveCommand: `${shellQuote(pushScript)} %p`,
    restoreCommand: `${shellQuote(fetchScript)} %f %p`,
  };
}

/** Single quotes keep spaces and `$` literal for /bin/sh; a quote inside is closed, escaped and reopened. */
function shellQuote(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}
