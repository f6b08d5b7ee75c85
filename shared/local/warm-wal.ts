/**
 * A warm start of a database's WAL prefetcher for a recovery that has not begun yet: while
 * the base backup is still being unpacked, `wal.js prefetcher --from <first segment>` starts
 * fetching, verifying and decompressing the first segments recovery will ask for, so that
 * PostgreSQL's first restore_command calls find them ready (the shell fast path moves them)
 * instead of each waiting for a Node process to start and download. It runs as PostgreSQL's OS
 * user, as the prefetcher restore_command would start: the files it leaves in the spool must be
 * theirs. Best effort: a failure to start is logged, and recovery fetches as it always did.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { isRoot, SERVER_OS_USER } from '../adapters/postgres/process';
import type { Log } from '../ports';
import type { HomePaths } from './home';
import { walHostPaths } from './wal-paths';

/** The WAL bundle local mode installs for PostgreSQL's OS user (shared/local/archiving.ts). */
export function installedWalBundle(paths: HomePaths): string {
  return join(paths.root, 'bin', 'wal.js');
}

/** POSIX sh run as the server's OS user: the prefetcher, its output appended to its log (created by that user). */
const WARM_SCRIPT = 'exec "$0" "$1" prefetcher --config "$2" --from "$3" </dev/null >>"$4" 2>&1';

/**
 * Returns `(database, first) => Promise<void>`: starts the prefetcher of `database`'s spool
 * detached, told that recovery will begin with segment `first`. Resolves once the process is
 * started (never rejects).
 */
export function warmWalFetch(paths: HomePaths, log: Log, nodePath = process.execPath): (database: string, first: string) => Promise<void> {
  return (database, first) =>
    new Promise<void>((resolve) => {
      const host = walHostPaths(paths, database);
      const args = ['-c', WARM_SCRIPT, nodePath, installedWalBundle(paths), host.config, first, join(host.spool, 'prefetcher.log')];
      const [command, argv] = isRoot() ? ['runuser', ['-u', SERVER_OS_USER, '--', 'sh', ...args]] : ['sh', args];
      const child = spawn(command as string, argv as string[], { detached: true, stdio: 'ignore' });
      child.once('error', (error) => {
        log.warn('the WAL prefetcher could not be started ahead of recovery: recovery fetches as usual', { database, error: error.message });
        resolve();
      });
      child.once('spawn', () => {
        child.unref();
        resolve();
      });
    });
}
